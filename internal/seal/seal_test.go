package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"testing"
)

func newSealer(t *testing.T) *Sealer {
	t.Helper()
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	s, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s := newSealer(t)
	secret := []byte("zt-secret-value-0123456789abcdef")
	sealed, err := s.Seal(secret, "lease-1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := s.Open(sealed, "lease-1")
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
}

func TestOpenRejects(t *testing.T) {
	t.Parallel()
	s := newSealer(t)
	sealed, err := s.Seal([]byte("x"), "lease-1")
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	cases := map[string]struct {
		s      *Sealer
		sealed []byte
		aad    string
	}{
		"other lease": {s, sealed, "lease-2"},
		"other key":   {newSealer(t), sealed, "lease-1"},
		"tampered":    {s, flipped, "lease-1"},
		"truncated":   {s, sealed[:5], "lease-1"},
		"empty":       {s, nil, "lease-1"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := tc.s.Open(tc.sealed, tc.aad); !errors.Is(err, ErrOpen) {
				t.Fatalf("Open err = %v, want ErrOpen", err)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, KeySize)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
		got, err := ParseKey(enc.EncodeToString(key) + "\n")
		if err != nil || !bytes.Equal(got, key) {
			t.Fatalf("ParseKey = %v, %v", got, err)
		}
	}
	if _, err := ParseKey(base64.StdEncoding.EncodeToString(key[:16])); err == nil {
		t.Fatal("short key accepted")
	}
	if _, err := ParseKey("!!!"); err == nil {
		t.Fatal("garbage accepted")
	}
}
