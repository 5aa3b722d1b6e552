package policy_test

import (
	"encoding/json"
	"testing"

	"github.com/ztbroker/ztbroker/internal/auth"
)

// FuzzDecide feeds arbitrary claim documents to a policy whose rules read
// claims of several shapes. Decide and Explain must never panic, and must
// agree on whether the caller is admitted.
func FuzzDecide(f *testing.F) {
	p := deployPolicy(f)
	f.Add([]byte(`{"repository":"acme/infra","ref":"refs/heads/main"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var claims map[string]any
		if json.Unmarshal(data, &claims) != nil {
			return
		}
		id := &auth.Identity{Kind: auth.KindOIDC, Subject: "x", Claims: claims}
		d := p.Decide(id)
		admitted := false
		for _, r := range p.Explain(id) {
			admitted = admitted || r.Admitted
		}
		if d.Allowed != admitted {
			t.Fatalf("Decide allowed=%v but Explain admitted=%v", d.Allowed, admitted)
		}
	})
}
