package credential

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	t.Parallel()
	getenv := func(k string) string {
		if k == "ID_TOKEN" {
			return " tok-from-env\n"
		}
		return ""
	}
	tests := []struct {
		spec    string
		want    string
		wantErr error
	}{
		{spec: "env:ID_TOKEN", want: "tok-from-env"},
		{spec: "env:UNSET", wantErr: ErrUnauthenticated},
		{spec: "env:", wantErr: ErrSpec},
		{spec: "file:", wantErr: ErrSpec},
		{spec: "gitlab", wantErr: ErrSpec},
		{spec: "", wantErr: ErrSpec},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			t.Parallel()
			src, err := Parse(tc.spec, Config{Getenv: getenv})
			if err == nil {
				var got string
				got, err = src.Token(context.Background())
				if err == nil && got != tc.want {
					t.Errorf("token = %q, want %q", got, tc.want)
				}
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("error = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestFileIsReadOnEveryUse(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "token")
	src, err := Parse("file:"+path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Token(context.Background()); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("missing file: error = %v, want ErrUnauthenticated", err)
	}
	for _, tok := range []string{"first", "rotated"} {
		if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := src.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got != tok {
			t.Errorf("token = %q, want %q", got, tok)
		}
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Token(context.Background()); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("empty file: error = %v, want ErrUnauthenticated", err)
	}
}

func TestJWTExpiry(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		tok  string
		want int64
	}{
		"readable":   {tok: fakeJWT("a", time.Unix(1700000000, 0)), want: 1700000000},
		"not a jwt":  {tok: "opaque", want: time.Time{}.Unix()},
		"bad base64": {tok: "a.!!!.c", want: time.Time{}.Unix()},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := jwtExpiry(tc.tok).Unix(); got != tc.want {
				t.Errorf("expiry = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestAPIKeyFileIsReadOnEveryUse(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "key")
	src := APIKeyFile{Path: path}
	if _, err := src.Token(context.Background()); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("missing file: error = %v, want ErrUnauthenticated", err)
	}
	for _, key := range []string{"ztb_first", "ztb_rotated"} {
		if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := src.Token(context.Background()); err != nil || got != key {
			t.Errorf("key = %q, %v; want %q", got, err, key)
		}
	}
	if err := os.WriteFile(path, []byte("  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Token(context.Background()); !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "API key file") {
		t.Errorf("empty file: error = %v, want an unauthenticated error naming the API key file", err)
	}
}
