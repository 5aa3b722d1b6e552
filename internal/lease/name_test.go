package lease

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestParseUpstreamName(t *testing.T) {
	t.Parallel()
	id := uuid.Must(uuid.NewV7()).String()
	v4 := uuid.NewString()
	tests := []struct {
		name, in, purpose string
		ok                bool
	}{
		{"ours", "ztb-deploy-" + id, "deploy", true},
		{"purpose with dashes", "ztb-ci-deploy-x-" + id, "ci-deploy-x", true},
		{"an admin key called like the prefix", "ztb-prod", "", false},
		{"the prefix alone", "ztb", "", false},
		{"not a uuid", "ztb-x-notauuid", "", false},
		{"a uuid that is not v7", "ztb-deploy-" + v4, "", false},
		{"upper-case id", "ztb-deploy-" + strings.ToUpper(id), "", false},
		{"no purpose", "ztb--" + id, "", false},
		{"no purpose, no dash", "ztb-" + id, "", false},
		{"purpose starting with a dash", "ztb--x-" + id, "", false},
		{"purpose with upper case", "ztb-Deploy-" + id, "", false},
		{"purpose with a dot", "ztb-de.ploy-" + id, "", false},
		{"another prefix", "zt-deploy-" + id, "", false},
		{"prefix without the dash", "ztbx-deploy-" + id, "", false},
		{"id not after a dash", "ztb-deploy_" + id, "", false},
		{"trailing text", "ztb-deploy-" + id + "x", "", false},
		{"a rotated admin key", "ztb-admin@" + id, "", false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, gotID, ok := ParseUpstreamName("ztb", tt.in)
			if ok != tt.ok || p != tt.purpose {
				t.Fatalf("ParseUpstreamName(%q) = %q, %q, %v; want purpose %q, ok %v", tt.in, p, gotID, ok, tt.purpose, tt.ok)
			}
			if ok && gotID != id {
				t.Fatalf("id = %q, want %q", gotID, id)
			}
		})
	}
	if _, _, ok := ParseUpstreamName("", "-x-"+id); ok {
		t.Error("an empty prefix must own nothing")
	}
}

func TestWellFormedID(t *testing.T) {
	t.Parallel()
	for range 100 {
		if id := uuid.Must(uuid.NewV7()).String(); !WellFormedID(id) {
			t.Fatalf("WellFormedID(%q) = false for a fresh v7", id)
		}
	}
	bad := []string{"", "0190b8a0-0000-7000-c000-000000000000", "0190b8a0-0000-4000-8000-000000000000",
		"0190b8a0-0000-7000-8000-00000000000", "0190b8a000000-7000-8000-000000000000", "0190b8a0-0000-7000-8000-00000000000g"}
	for _, id := range bad {
		if WellFormedID(id) {
			t.Errorf("WellFormedID(%q) = true", id)
		}
	}
}
