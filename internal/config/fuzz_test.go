package config_test

import (
	"os"
	"testing"

	"github.com/ztbroker/ztbroker/internal/config"
)

// FuzzParse feeds arbitrary documents to the parser: it must never panic,
// and it returns either a config or an error, never both or neither.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("testdata/broker.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(minimal))
	opts := testOptions()
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.ParseWith("fuzz.yaml", data, opts)
		if (c == nil) == (err == nil) {
			t.Fatalf("config %v and error %v", c, err)
		}
		if c != nil {
			_ = c.Redacted()
		}
	})
}
