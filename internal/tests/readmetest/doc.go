// Package readmetest walks the README's "Run it for real" section: it
// runs every shell block marked <!-- walk --> in one bash session, in a
// temporary directory, against a throwaway PostgreSQL cluster and the
// broker built from this checkout, then checks what the section promises:
// a token issued and revoked by serve on PostgreSQL, no secret in any log,
// output or row, and a runtime role that can do no more than its work.
package readmetest
