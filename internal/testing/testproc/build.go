package testproc

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// built is the binary for this test process. It is package state because
// every test in the process shares one build and nothing else could hand
// it from one test to the next.
var built struct {
	once sync.Once
	path string
	err  error
}

// Build compiles cmd/broker once per test process and returns the path
// of the binary.
func Build(t testing.TB) string {
	t.Helper()
	built.once.Do(func() { built.path, built.err = build() })
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// build writes the binary to a per-checkout cache directory and renames
// it into place, so test processes of several packages building at once
// never run a half-written file and nothing piles up in the temp dir.
func build() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(cache, "ztbroker-testproc", hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("testproc: %w", err)
	}
	final := filepath.Join(dir, "broker")
	tmp := final + "." + rand.Text()
	cmd := exec.Command("go", "build", "-o", tmp, "./cmd/broker")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("testproc: go build ./cmd/broker: %w\n%s", err, out.String())
	}
	if err := os.Rename(tmp, final); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("testproc: %w", err)
	}
	return final, nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("testproc: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("testproc: not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}
