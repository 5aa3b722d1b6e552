package clientcmd

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// A stepNonce is the random part of an idempotency key derived inside CI.
//
// Derived keys used to be made of run metadata alone (repository, run id,
// attempt, job, runner, step, purpose), which anyone who can read the
// run's logs or guess GitLab's sequential job ids can reconstruct; a
// caller sharing the lease owner could then replay the key. The random
// part has to survive a retry of the same step, which runs the CLI again
// as a new process, and nothing beyond it:
//
//   - The step's environment cannot carry it: a child process cannot
//     change its parent shell's variables, and $GITHUB_ENV reaches only
//     later steps.
//   - A file can. On GitHub it lives in $RUNNER_TEMP, which the runner
//     empties at the start and end of every job (self-hosted runners
//     included), under a name hashed from the run, attempt, job, runner,
//     step and purpose: another step, job or attempt never finds it. GitLab
//     offers no per-job directory, so it lives in $TMPDIR under a name
//     that includes the never-reused CI_JOB_ID.
//   - exec removes it once the lease is revoked, so that running exec again
//     in the same step gets a new lease rather than a replay of the one
//     it just ended.
//
// The file is mode 0600 in a 0700 directory, so other users of a shared
// runner cannot read it, and two invocations racing in one step agree on
// one nonce.
type stepNonce struct {
	value string
	path  string
}

// nonceDirName is the directory under the state directory.
const nonceDirName = "ztbroker-idempotency"

func loadStepNonce(stateDir string, parts []string) (*stepNonce, error) {
	if stateDir == "" {
		return nil, errors.New("no temporary directory to keep the idempotency key's random part in")
	}
	dir := filepath.Join(stateDir, nonceDirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keep the idempotency key's random part: %w", err)
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	path := filepath.Join(dir, hex.EncodeToString(sum[:16]))
	n := &stepNonce{value: randomHex(16), path: path}
	// Written aside and linked into place, so the name only ever appears
	// with its whole content, and the first of two racing invocations
	// wins.
	tmp, err := os.CreateTemp(dir, "new-*")
	if err != nil {
		return nil, fmt.Errorf("keep the idempotency key's random part: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(n.value)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Link(tmp.Name(), path)
	}
	switch {
	case werr == nil:
		return n, nil
	case errors.Is(werr, fs.ErrExist):
		return readStepNonce(path)
	default:
		return nil, fmt.Errorf("keep the idempotency key's random part: %w", werr)
	}
}

// readStepNonce reads the nonce an earlier invocation of this step wrote.
func readStepNonce(path string) (*stepNonce, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the idempotency key's random part: %w", err)
	}
	v := string(b)
	if _, err := hex.DecodeString(v); err != nil || len(v) != 32 {
		return nil, fmt.Errorf("%s does not hold an idempotency key's random part", path)
	}
	return &stepNonce{value: v, path: path}, nil
}

func (n *stepNonce) remove() {
	if n.path != "" {
		_ = os.Remove(n.path)
	}
}

// tempDir is $TMPDIR or the system's temporary directory.
func tempDir(getenv func(string) string) string {
	return firstSet(getenv("TMPDIR"), os.TempDir())
}
