// Package policy decides whether a caller may issue a lease for a purpose.
//
// A purpose admits a caller by API key name, by exact owner
// ("<kind>:<subject>"), or by a CEL rule over the caller's identity and
// verified claims. Rules are compiled and type-checked when the config
// loads, so a broken rule stops start-up instead of denying at run time;
// deciding is then only evaluation of precompiled programs.
//
// Sources are tried in a fixed order: api_keys, subjects, then rules in
// the order written. The first that admits wins and its max_ttl (if any)
// caps the lease. Ordering rather than "most generous wins" keeps the
// outcome predictable when reading the config top to bottom.
//
// A rule that fails to evaluate (a claim it reads is missing, a value has
// the wrong type) does not admit; Explain reports why for the dry-run tool.
package policy
