package exectest

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// recordEnv is the start of every child script: it writes what exec gave
// it into the directory $1 and then creates "ready", so that the test
// knows the command runs and can read its token.
const recordEnv = `d=$1
printf %s "$ZEROTIER_CENTRAL_TOKEN" > "$d/token"
printf %s "$ZEROTIER_AUTH_SCHEME" > "$d/scheme"
printf %s "$ZTBROKER_LEASE_ID" > "$d/lease"
printf %s "$ZEROTIER_CENTRAL_URL" > "$d/url"
` + readyLine

// readyLine is recordEnv's last line, which tells the test the child runs.
const readyLine = `: > "$d/ready"
`

// child is exec's command: a shell script that records its environment
// and then waits on a FIFO gate until the test opens it.
type child struct {
	dir string
	// gate is the FIFO held open read-write by the test, so the child's
	// open never blocks, a release written before the child reads is
	// kept, and closing it (at the latest at cleanup) ends the wait.
	gate     *os.File
	closeOne sync.Once
}

func newChild(t *testing.T) *child {
	t.Helper()
	c := &child{dir: t.TempDir()}
	path := filepath.Join(c.dir, "gate")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open gate: %v", err)
	}
	c.gate = f
	t.Cleanup(c.close)
	return c
}

// argv is the command line that runs body after recording the
// environment. body reads the gate with: read _ < "$d/gate". Lines at
// the start of body that set traps run before the child announces that
// it is ready: a test sends its signal once the child is ready, and a
// trap set after that would race the signal.
func (c *child) argv(body string) []string {
	var traps strings.Builder
	for strings.HasPrefix(body, "trap ") {
		line, rest, _ := strings.Cut(body, "\n")
		traps.WriteString(line + "\n")
		body = rest
	}
	head, _, _ := strings.Cut(recordEnv, readyLine)
	return []string{"sh", "-c", head + traps.String() + readyLine + body, "child", c.dir}
}

// release lets a child waiting on the gate go on.
func (c *child) release(t *testing.T) {
	t.Helper()
	if _, err := c.gate.WriteString("go\n"); err != nil {
		t.Fatalf("release child: %v", err)
	}
}

// close ends any wait on the gate: with no writer left, the read sees EOF.
func (c *child) close() { c.closeOne.Do(func() { _ = c.gate.Close() }) }

// file reads a file the child wrote, "" when it has not.
func (c *child) file(name string) string {
	b, err := os.ReadFile(filepath.Join(c.dir, name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (c *child) ready() bool {
	_, err := os.Stat(filepath.Join(c.dir, "ready"))
	return err == nil
}

// given is what exec handed the child.
type given struct{ token, scheme, leaseID, url string }

func (c *child) given(t *testing.T) given {
	t.Helper()
	g := given{token: c.file("token"), scheme: c.file("scheme"), leaseID: c.file("lease"), url: c.file("url")}
	if g.token == "" || g.scheme == "" || g.leaseID == "" {
		t.Fatalf("child recorded token %d bytes, scheme %q, lease id %q; want all three", len(g.token), g.scheme, g.leaseID)
	}
	return g
}
