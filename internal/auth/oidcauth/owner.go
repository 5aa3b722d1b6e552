package oidcauth

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/errs"
)

// maxOwnerClaimBytes bounds sub and each owner claim. They are stored on
// every lease and written to every audit event; real values (a GitHub
// job_workflow_ref, a GitLab project path) are a few hundred bytes.
const maxOwnerClaimBytes = 1024

// ownerOf builds the lease owner from the owner claims, in their
// configured order:
//
//	oidc:<issuer>/<claim>=<value>&<claim>=<value>...
//
// Values escape %, & and = (claim names cannot hold & or =), so two
// different sets of values never give the same owner. An issuer whose
// owner claims are sub alone keeps the principal, "oidc:<issuer>/<sub>",
// as owner, and ownerOf returns "" for it.
func ownerOf(issuer string, names []string, claims map[string]any) (string, map[string]string, error) {
	values := make(map[string]string, len(names))
	var b strings.Builder
	b.WriteString(auth.KindOIDC + ":" + issuer + "/")
	for i, n := range names {
		v, err := ownerValue(claims, n)
		if err != nil {
			return "", nil, err
		}
		values[n] = v
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(escapeOwnerValue(v))
	}
	if len(names) == 1 && names[0] == "sub" {
		return "", values, nil
	}
	return b.String(), values, nil
}

// ownerValue reads one owner claim as text. A missing claim, or one that
// is not a scalar, cannot identify anybody, so the token is refused
// rather than the caller being lumped in with others.
func ownerValue(claims map[string]any, name string) (string, error) {
	raw, ok := claims[name]
	if !ok {
		return "", fmt.Errorf("token lacks owner claim %s: %w", quoteShort(name), errs.Unauthenticated)
	}
	var v string
	switch x := raw.(type) {
	case string:
		v = x
	case int64:
		v = strconv.FormatInt(x, 10)
	case float64:
		v = strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		v = strconv.FormatBool(x)
	default:
		return "", fmt.Errorf("owner claim %s is not a string, number or boolean: %w", quoteShort(name), errs.Unauthenticated)
	}
	if err := checkIdentityText("owner claim "+name, v); err != nil {
		return "", err
	}
	return v, nil
}

// checkIdentityText refuses empty, oversized or control-character values
// in what names a caller: they end up in lease rows, audit rows and
// terminals.
func checkIdentityText(what, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("%s is empty: %w", what, errs.Unauthenticated)
	case len(v) > maxOwnerClaimBytes:
		return fmt.Errorf("%s is longer than %d bytes: %w", what, maxOwnerClaimBytes, errs.Unauthenticated)
	case strings.ContainsFunc(v, unicode.IsControl):
		return fmt.Errorf("%s holds control characters: %w", what, errs.Unauthenticated)
	}
	return nil
}

func escapeOwnerValue(v string) string {
	if !strings.ContainsAny(v, "%&=") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '%', '&', '=':
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
