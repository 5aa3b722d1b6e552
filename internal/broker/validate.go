package broker

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ztbroker/ztbroker/internal/errs"
)

const (
	maxLabels        = 32
	maxLabelValueLen = 256
	maxIdemKeyLen    = 200
	maxReasonLen     = 500
	// maxFilterLen bounds free-text filters (purpose, owner, actor,
	// action); no real value comes near it.
	maxFilterLen = 512
)

var labelKeyRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9_.\-/]{0,62})$`)

func invalid(format string, args ...any) error {
	return errs.Public(errs.InvalidArgument, fmt.Sprintf(format, args...))
}

func validateLabels(labels map[string]string) error {
	if len(labels) > maxLabels {
		return invalid("at most %d labels are allowed, got %d", maxLabels, len(labels))
	}
	for k, v := range labels {
		if !labelKeyRE.MatchString(k) {
			return invalid("label key %q must match %s", truncate(k, 70), labelKeyRE)
		}
		if len(v) > maxLabelValueLen || !utf8.ValidString(v) {
			return invalid("label %q: value must be valid UTF-8 of at most %d bytes", k, maxLabelValueLen)
		}
		if err := noControl(fmt.Sprintf("label %q: value", k), v, false); err != nil {
			return err
		}
	}
	return nil
}

// validateText checks a caller's text that has no room for control
// characters: keys, tokens, filters.
func validateText(field, v string, max int) error {
	if len(v) > max || !utf8.ValidString(v) {
		return invalid("%s must be valid UTF-8 of at most %d bytes", field, max)
	}
	return noControl(field, v, false)
}

// validateReason checks free text meant for people, where a tab is
// harmless.
func validateReason(v string) error {
	if len(v) > maxReasonLen || !utf8.ValidString(v) {
		return invalid("reason must be valid UTF-8 of at most %d bytes", maxReasonLen)
	}
	return noControl("reason", v, true)
}

// noControl refuses C0 and C1 control characters and DEL. PostgreSQL
// cannot store NUL in text, and the others forge lines, columns and
// terminal escapes wherever the value is shown again (logs, the audit
// trail, `broker admin audit`).
func noControl(field, v string, tabOK bool) error {
	for _, r := range v {
		if unicode.IsControl(r) && !(tabOK && r == '\t') {
			return invalid("%s must not contain control characters (found %U)", field, r)
		}
	}
	return nil
}

// validateFilters checks (field, value) pairs of filter text in order.
func validateFilters(fields ...[2]string) error {
	for _, f := range fields {
		if err := validateText(f[0], f[1], maxFilterLen); err != nil {
			return err
		}
	}
	return nil
}

// parseLabel splits a "key=value" filter.
func parseLabel(s string) (key, val string, err error) {
	if s == "" {
		return "", "", nil
	}
	k, v, ok := strings.Cut(s, "=")
	if !ok || !labelKeyRE.MatchString(k) {
		return "", "", invalid("label filter must be key=value with a valid key, got %q", truncate(s, 70))
	}
	if err := validateText("label filter value", v, maxLabelValueLen); err != nil {
		return "", "", err
	}
	return k, v, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func validID(id string) error {
	if id == "" {
		return invalid("id is required")
	}
	if len(id) > 64 {
		return errs.Public(errs.NotFound, "lease not found")
	}
	return validateText("id", id, 64)
}
