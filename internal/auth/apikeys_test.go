package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
)

const jwtShaped = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"

func TestAPIKeysAuthenticate(t *testing.T) {
	t.Parallel()
	keys := map[string]string{
		"deployer": lease.HashToken("deployer-secret"),
		"ops":      lease.HashToken("ops-secret"),
	}
	a, err := auth.NewAPIKeys(keys, []string{"api_key:ops"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		bearer  string
		want    *auth.Identity
		wantErr error
	}{
		{name: "known key", bearer: "deployer-secret", want: &auth.Identity{Kind: auth.KindAPIKey, Subject: "deployer"}},
		{name: "admin key", bearer: "ops-secret", want: &auth.Identity{Kind: auth.KindAPIKey, Subject: "ops", Admin: true}},
		{name: "unknown key", bearer: "nope", wantErr: errs.Unauthenticated},
		{name: "jwt left to oidc", bearer: jwtShaped, wantErr: auth.ErrNoCredentials},
		{name: "no bearer", bearer: "", wantErr: auth.ErrNoCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := a.Authenticate(context.Background(), auth.Credentials{Bearer: tt.bearer})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAPIKeysErrorsNeverCarryTheKey(t *testing.T) {
	t.Parallel()
	a, err := auth.NewAPIKeys(map[string]string{"k": lease.HashToken("x")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "wrong-but-secret-value"
	_, err = a.Authenticate(context.Background(), auth.Credentials{Bearer: secret})
	if err == nil || containsFold(err.Error(), secret) {
		t.Fatalf("err = %v", err)
	}
}

func TestNewAPIKeysRejectsBadHashes(t *testing.T) {
	t.Parallel()
	tests := map[string]map[string]string{
		"not hex":    {"a": "zz"},
		"short":      {"a": "abcd"},
		"empty name": {"": lease.HashToken("x")},
		"duplicate":  {"a": lease.HashToken("x"), "b": lease.HashToken("x")},
	}
	for name, keys := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := auth.NewAPIKeys(keys, nil); !errors.Is(err, errs.InvalidArgument) {
				t.Fatalf("err = %v, want ErrInvalidArgument", err)
			}
		})
	}
}

func TestLooksLikeJWT(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		jwtShaped:            true,
		"eyJ.a":              false,
		"abc.def.ghi":        false,
		"eyJa.b.c d":         false,
		"eyJa.b.c":           true,
		"eyJa.b.c.d":         false,
		"ztk_0123456789abcd": false,
	}
	for in, want := range tests {
		if got := auth.LooksLikeJWT(in); got != want {
			t.Errorf("LooksLikeJWT(%q) = %v, want %v", in, got, want)
		}
	}
}
