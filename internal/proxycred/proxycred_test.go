package proxycred_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/ztbroker/ztbroker/internal/proxycred"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scanner is the pattern the README gives secret scanners.
var scanner = regexp.MustCompile(`\bztbp_[0-9A-Za-z]{46}\b`)

func TestNewIsWellFormedAndDistinct(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 200 {
		c, err := proxycred.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !proxycred.WellFormed(c) || !scanner.MatchString(c) || len(c) != proxycred.Len {
			t.Fatalf("credential %q is not well formed", c)
		}
		if seen[c] {
			t.Fatalf("credential %q drawn twice", c)
		}
		seen[c] = true
	}
}

func TestWellFormedRejects(t *testing.T) {
	t.Parallel()
	good, err := proxycred.New(bytes.NewReader(bytes.Repeat([]byte{7, 200, 31, 99}, 100)))
	if err != nil {
		t.Fatal(err)
	}
	if !proxycred.WellFormed(good) {
		t.Fatalf("%q rejected", good)
	}
	flip := func(i int) string {
		b := []byte(good)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	for name, s := range map[string]string{
		"empty":                "",
		"no prefix":            good[len(proxycred.Prefix):],
		"other prefix":         "ztbx_" + good[len(proxycred.Prefix):],
		"short":                good[:len(good)-1],
		"long":                 good + "0",
		"random part changed":  flip(len(proxycred.Prefix) + 3),
		"checksum changed":     flip(len(good) - 1),
		"non-alphanumeric":     good[:10] + "-" + good[11:],
		"upper-cased prefix":   strings.ToUpper(good[:5]) + good[5:],
		"an upstream-like key": strings.Repeat("A", proxycred.Len),
	} {
		if proxycred.WellFormed(s) {
			t.Errorf("%s: %q accepted", name, s)
		}
	}
}

func TestNewFailsWithoutRandomness(t *testing.T) {
	t.Parallel()
	if _, err := proxycred.New(bytes.NewReader(nil)); err == nil {
		t.Fatal("New succeeded with no random bytes")
	}
}
