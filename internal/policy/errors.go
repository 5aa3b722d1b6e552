package policy

import "fmt"

// CompileError is one problem in a purpose's allow section. Compile joins
// them with errors.Join; the config loader unwraps them to point at the
// offending field of the file.
type CompileError struct {
	Purpose string
	// Section is "api_keys", "subjects" or "rules".
	Section string
	// Index is the entry's position within Section.
	Index int
	// Rule is the rule's name when Section is "rules".
	Rule string
	// Field is the rule field at fault ("name", "expr", "max_ttl"), or
	// empty for list entries.
	Field string
	Msg   string
}

func (e *CompileError) Error() string {
	if e.Section == "rules" {
		return fmt.Sprintf("purpose %q: rule %q: %s: %s", e.Purpose, e.Rule, e.Field, e.Msg)
	}
	return fmt.Sprintf("purpose %q: %s[%d]: %s", e.Purpose, e.Section, e.Index, e.Msg)
}
