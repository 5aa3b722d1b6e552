package sink

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var data = Data{
	Token: "zt_secret_token", APIBaseURL: "https://api.zerotier.com", AuthScheme: "Bearer",
	LeaseID: "01a2-lease", Purpose: "netops", Expires: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
}

func TestRender(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "netrc.tmpl")
	if err := os.WriteFile(tmpl, []byte(`url={{.APIBaseURL}} auth="{{.AuthScheme}} {{.Token}}" until={{.Expires.Format "15:04"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	quoted := data
	quoted.Token = "it's $HOME"
	tests := []struct {
		name string
		spec string
		tmpl bool
		in   Data
		want string
	}{
		{name: "file", spec: "file:/run/zt/token", in: data, want: "zt_secret_token"},
		{name: "env file", spec: "env-file:/run/zt/env", in: data, want: "ZEROTIER_CENTRAL_TOKEN=zt_secret_token\n" +
			"ZEROTIER_CENTRAL_URL=https://api.zerotier.com\nZEROTIER_AUTH_SCHEME=Bearer\nZTBROKER_LEASE_ID=01a2-lease\n"},
		{name: "env file quotes what needs it", spec: "env-file:/run/zt/env", in: quoted, want: `ZEROTIER_CENTRAL_TOKEN='it'\''s $HOME'` + "\n" +
			"ZEROTIER_CENTRAL_URL=https://api.zerotier.com\nZEROTIER_AUTH_SCHEME=Bearer\nZTBROKER_LEASE_ID=01a2-lease\n"},
		{name: "template", spec: tmpl + ":/run/zt/netrc", tmpl: true, in: data,
			want: `url=https://api.zerotier.com auth="Bearer zt_secret_token" until=12:00`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parse := Parse
			if tc.tmpl {
				parse = ParseTemplate
			}
			s, err := parse(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Render(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("contents (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.tmpl")
	if err := os.WriteFile(bad, []byte("{{.Token"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{"", "file:", "socket:/x", "/run/zt/token"} {
		if _, err := Parse(spec); err == nil {
			t.Errorf("Parse(%q) succeeded", spec)
		}
	}
	for _, spec := range []string{"", "only-src", filepath.Join(dir, "missing") + ":/out", bad + ":/out"} {
		if _, err := ParseTemplate(spec); err == nil {
			t.Errorf("ParseTemplate(%q) succeeded", spec)
		}
	}
	s, err := ParseTemplate(writeTemplate(t, dir, "{{.Nope}}") + ":/out")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Render(data); err == nil || strings.Contains(err.Error(), data.Token) {
		t.Errorf("rendering an unknown field: %v, want an error without the token", err)
	}
}

func writeTemplate(t *testing.T, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, "t.tmpl")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestWriteFileModeAndOwner replaces a world-readable file owned by the
// test's user with a 0600 file owned by the configured owner, whatever
// the umask, and leaves no temporary file behind.
func TestWriteFileModeAndOwner(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root; the suite runs as root in CI")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	owner, err := ParseOwner("65534:65533")
	if err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	if err := WriteFile(path, []byte("new"), owner); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o600 || st.Uid != 65534 || st.Gid != 65533 {
		t.Errorf("file is %o owned by %d:%d, want 600 owned by 65534:65533", fi.Mode().Perm(), st.Uid, st.Gid)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Errorf("contents %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the sink", len(entries))
	}
}

// TestWriteFileIsAtomic reads the file as fast as it can while it is
// replaced two hundred times by versions of 256 KiB each: every read is
// one whole version.
func TestWriteFileIsAtomic(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "token")
	const size = 256 << 10
	version := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, size) }
	if err := WriteFile(path, version(0), Owner{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var reads, torn int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			b, err := os.ReadFile(path)
			if err != nil {
				torn++
				continue
			}
			reads++
			if len(b) != size || bytes.Count(b, b[:1]) != size {
				torn++
			}
		}
	}()
	for i := 1; i <= 200; i++ {
		if err := WriteFile(path, version(i), Owner{}); err != nil {
			t.Error(err)
			break
		}
	}
	close(done)
	wg.Wait()
	if torn != 0 {
		t.Errorf("%d of %d reads saw a missing or partial file", torn, reads+torn)
	}
	if reads == 0 {
		t.Error("the reader never read; the test proved nothing")
	}
}

func TestParseOwner(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in       string
		uid, gid int
		set      bool
		err      bool
	}{
		{in: ""},
		{in: "1000", uid: 1000, gid: 1000, set: true},
		{in: "1000:2000", uid: 1000, gid: 2000, set: true},
		{in: "root", uid: 0, gid: 0, set: true},
		{in: "root:0", uid: 0, gid: 0, set: true},
		{in: "no-such-user-zt", err: true},
		{in: "0:no-such-group-zt", err: true},
	}
	for _, tc := range tests {
		o, err := ParseOwner(tc.in)
		if (err != nil) != tc.err || o.UID != tc.uid || o.GID != tc.gid || o.Set() != tc.set {
			t.Errorf("ParseOwner(%q) = %+v, %v", tc.in, o, err)
		}
	}
}
