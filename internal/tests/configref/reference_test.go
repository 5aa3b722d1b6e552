package configref

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReferenceIsCurrent(t *testing.T) {
	t.Parallel()
	got, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(docFile(), []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(docFile())
	if err != nil {
		t.Fatalf("%v; run make config-reference", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("docs/configuration.md is out of date; run make config-reference (-file +code):\n%s", diff)
	}
}

// TestReferenceNamesWhatUsersAskFor pins keys a reader was once unable
// to find, so that the generator cannot silently lose a kind of field.
func TestReferenceNamesWhatUsersAskFor(t *testing.T) {
	t.Parallel()
	got, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{
		"`auth.oidc.issuers[].name`", "`auth.oidc.issuers[].preset`",
		"`upstreams[].name`", "`upstreams[].kind`",
		"`upstreams[kind=legacy].paths.status`", "`upstreams[kind=legacy].paths.user`",
		"`upstreams[kind=legacy].paths.create_token`", "`upstreams[kind=legacy].paths.delete_token`",
		"`upstreams[kind=new_central].paths.create_key`", "`upstreams[kind=new_central].paths.delete_key`",
		"`upstreams[kind=new_central].paths.get_service_account`", "`upstreams[kind=new_central].rotate.lifetime`",
		"`database.migrations`", "`listen.limits.readyz_cache`", "`purposes[].scope.rules[].operations`",
	} {
		if !strings.Contains(got, "| "+key+" |") {
			t.Errorf("the reference lacks %s", key)
		}
	}
	for _, want := range []string{"| `/status` |", "| `/api/v2/service-account/{id}/api-key` |", "| `127.0.0.1:9090` |", "| `apply` |"} {
		if !strings.Contains(got, want) {
			t.Errorf("the reference lacks the default %s", want)
		}
	}
}
