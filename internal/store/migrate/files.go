package migrate

import (
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"

	"github.com/ztbroker/ztbroker/migrations"
)

// Migration is one numbered schema change and its inverse.
type Migration struct {
	Version int
	Name    string
	Up      string
	Down    string
}

var fileName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$`)

// Load reads and validates the embedded migrations: every number has both
// an up and a down file with the same name, and numbers run 1, 2, 3, …
// without gaps, so a half-added migration fails loudly at startup and in
// tests rather than silently skipping a step.
func Load() ([]Migration, error) {
	return load(migrations.FS)
}

func load(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("migrate: read migrations: %w", err)
	}
	byVersion := map[int]*Migration{}
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migrate: unexpected file %q in migrations", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("migrate: read %s: %w", e.Name(), err)
		}
		mig := byVersion[v]
		if mig == nil {
			mig = &Migration{Version: v, Name: m[2]}
			byVersion[v] = mig
		}
		if mig.Name != m[2] {
			return nil, fmt.Errorf("migrate: version %04d has two names, %q and %q", v, mig.Name, m[2])
		}
		if m[3] == "up" {
			mig.Up = string(body)
		} else {
			mig.Down = string(body)
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrate: migration %04d missing (found %04d next)", i+1, m.Version)
		}
		if m.Up == "" || m.Down == "" {
			return nil, fmt.Errorf("migrate: migration %04d_%s needs both an up and a down file", m.Version, m.Name)
		}
	}
	return out, nil
}
