package broker

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/ztbroker/ztbroker/internal/errs"
)

const (
	maxLabels        = 32
	maxLabelValueLen = 256
	maxIdemKeyLen    = 200
	maxReasonLen     = 500
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
	}
	return nil
}

func validateText(field, v string, max int) error {
	if len(v) > max || !utf8.ValidString(v) {
		return invalid("%s must be valid UTF-8 of at most %d bytes", field, max)
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
	return nil
}
