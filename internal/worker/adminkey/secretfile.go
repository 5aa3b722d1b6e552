package adminkey

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"
)

// maxSecretFile bounds a secret file, as the config loader does.
const maxSecretFile = 1 << 20

// fileState is what tells a changed file from an unchanged one without
// reading it: a rename into place (Kubernetes secrets, atomic writes)
// changes the inode, an edit in place the size or time.
type fileState struct {
	ok    bool
	size  int64
	mtime time.Time
	ino   uint64
}

func statFile(path string) fileState {
	fi, err := os.Stat(path)
	if err != nil {
		return fileState{}
	}
	return fileState{ok: true, size: fi.Size(), mtime: fi.ModTime(), ino: inode(fi)}
}

// readSecret reads a secret file the way the config loader does:
// surrounding whitespace dropped, empty refused. Errors name the file and
// the failure, never the contents.
func readSecret(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("%s: larger than %d bytes", path, maxSecretFile)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "", fmt.Errorf("%s: empty", path)
	}
	return string(b), nil
}
