package config_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/config"
)

// TestNoDatabaseOnlyWhenAsked: serve must have a database; broker dev,
// which brings its own store, may omit it.
func TestNoDatabaseOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	text := []byte(doc(map[string]string{"database": "{}"}))
	_, err := config.ParseWith("b.yaml", text, testOptions())
	var got []string
	if err != nil {
		got = errorLines(err)
	}
	if diff := cmp.Diff([]string{"b.yaml: database.url: is required (or url_env)"}, got); diff != "" {
		t.Errorf("without NoDatabase (-want +got):\n%s", diff)
	}
	o := testOptions()
	o.NoDatabase = true
	if _, err := config.ParseWith("b.yaml", text, o); err != nil {
		t.Errorf("with NoDatabase: %v", err)
	}
}
