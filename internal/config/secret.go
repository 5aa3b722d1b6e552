package config

import "log/slog"

const redacted = "[redacted]"

// Secret is a value read from an environment variable or file. Every way
// of printing it — fmt, slog, JSON — shows "[redacted]"; only Reveal and
// Bytes give the value, so a call site that uses it is easy to find.
type Secret struct {
	v []byte
}

// NewSecret wraps a value.
func NewSecret(v []byte) Secret { return Secret{v: append([]byte(nil), v...)} }

// IsSet reports whether a value is present.
func (s Secret) IsSet() bool { return len(s.v) > 0 }

// Reveal returns the value as a string.
func (s Secret) Reveal() string { return string(s.v) }

// Bytes returns a copy of the value.
func (s Secret) Bytes() []byte { return append([]byte(nil), s.v...) }

func (s Secret) String() string {
	if !s.IsSet() {
		return ""
	}
	return redacted
}

// GoString covers %#v, which would otherwise print the bytes.
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText covers encoding/json and friends.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
