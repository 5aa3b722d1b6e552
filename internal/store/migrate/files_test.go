package migrate

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadEmbedded(t *testing.T) {
	t.Parallel()
	migs, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range migs {
		if m.Version != i+1 {
			t.Errorf("migration %d has version %d", i, m.Version)
		}
	}
}

func TestLoadRejectsBrokenSets(t *testing.T) {
	t.Parallel()
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		wantErr string
	}{
		{"missing down", fstest.MapFS{"0001_a.up.sql": file("x")}, "both an up and a down"},
		{"gap", fstest.MapFS{
			"0001_a.up.sql": file("x"), "0001_a.down.sql": file("x"),
			"0003_c.up.sql": file("x"), "0003_c.down.sql": file("x"),
		}, "0002 missing"},
		{"two names", fstest.MapFS{"0001_a.up.sql": file("x"), "0001_b.down.sql": file("x")}, "two names"},
		{"stray file", fstest.MapFS{"README.md": file("x")}, "unexpected file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := load(tt.fsys)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("load() error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
