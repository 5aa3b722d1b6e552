package migrations

import (
	"io/fs"
	"regexp"
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

// TestEveryNumberHasUpAndDown guards against a migration added with only
// one direction, or a gap in the numbering that would make order unclear.
func TestEveryNumberHasUpAndDown(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.(up|down)\.sql$`)
	entries, err := fs.ReadDir(FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[int]map[string]bool{}
	for _, e := range entries {
		m := re.FindStringSubmatch(e.Name())
		if m == nil {
			t.Errorf("file %q does not look like NNNN_name.up.sql or .down.sql", e.Name())
			continue
		}
		n, _ := strconv.Atoi(m[1])
		if dirs[n] == nil {
			dirs[n] = map[string]bool{}
		}
		dirs[n][m[2]] = true
	}
	if len(dirs) == 0 {
		t.Fatal("no migrations embedded")
	}
	for n := 1; n <= len(dirs); n++ {
		if !dirs[n]["up"] || !dirs[n]["down"] {
			t.Errorf("migration %04d: have %v, want both up and down", n, dirs[n])
		}
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
