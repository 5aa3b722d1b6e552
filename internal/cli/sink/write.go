package sink

import (
	"fmt"
	"os"
	"path/filepath"
)

// Mode is the permission every sink file gets.
const Mode os.FileMode = 0o600

// WriteFile replaces path with data atomically, mode 0600, owned by owner
// (when it is set).
func WriteFile(path string, data []byte, owner Owner) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	// CreateTemp makes the file 0600 already; Chmod says so whatever the
	// umask, and chown comes before any secret is in it.
	if err := tmp.Chmod(Mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if owner.Set() {
		if err := tmp.Chown(owner.UID, owner.GID); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// The rename is durable only once the directory is.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
