package clientcmd

import (
	"bytes"
	"strings"
	"testing"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// TestTablesEscapeWhatCallersWrote feeds `admin audit` and `token list`
// values a caller could have stored: a newline that would forge a row, a
// tab that would forge a column, and terminal escape sequences. Each stays
// one escaped cell, and nothing raw reaches the terminal.
func TestTablesEscapeWhatCallersWrote(t *testing.T) {
	t.Parallel()
	forged := "done\n999\t2030-01-01T00:00:00Z\tadmin_revoke_leases\tapi_key:root"
	var out bytes.Buffer
	err := writeAuditTable(&out, []*ztbrokerv1.AuditEvent{
		{Id: 1, Action: "revoke", ActorKind: "oidc", ActorSubject: "ci/\x1b]0;pwned\x07", Reason: forged},
		{Id: 2, Action: "issue", ActorKind: "api_key", ActorSubject: "ops", Reason: "plain reason"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeLeaseTable(&out, []*ztbrokerv1.Lease{{Id: "l1", Owner: "mtls:cn:x\u009b31m", Labels: map[string]string{"k": "\x1b[2J"}}}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if strings.ContainsAny(text, "\x1b\x07\u009b") {
		t.Errorf("a control character reached the output:\n%q", text)
	}
	if lines := strings.Count(text, "\n"); lines != 5 {
		t.Errorf("%d lines, want 2 headers and 3 rows:\n%s", lines, text)
	}
	for _, want := range []string{`"done\n999\t2030-01-01T00:00:00Z\tadmin_revoke_leases\tapi_key:root"`, `"oidc:ci/\x1b]0;pwned\a"`, "plain reason", `"k=\x1b[2J"`, `"mtls:cn:x\u009b31m"`} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %s:\n%s", want, text)
		}
	}
}
