package config

import (
	"log/slog"
	"net/url"
	"reflect"
	"strings"
	"time"
)

// Redacted returns the configuration as a tree of maps and lists keyed by
// the file's field names, fit to log: durations as "15m" strings, secrets
// shown only as whether they are set, and any URL's password masked. It
// describes what the broker will run with, defaults included.
func (c *Config) Redacted() map[string]any {
	m, _ := redactValue(reflect.ValueOf(c).Elem()).(map[string]any)
	ups := make([]any, 0, len(c.Upstreams))
	upSecrets := map[string]any{}
	for _, u := range c.Upstreams {
		// Flattened, as the file writes it: name, kind and the kind's
		// settings side by side.
		e := map[string]any{}
		switch {
		case u.NewCentral != nil:
			e, _ = redactValue(reflect.ValueOf(u.NewCentral).Elem()).(map[string]any)
			upSecrets[u.Name] = u.NewCentral.AdminKey.IsSet()
		case u.Legacy != nil:
			e, _ = redactValue(reflect.ValueOf(u.Legacy).Elem()).(map[string]any)
			upSecrets[u.Name] = u.Legacy.Token.IsSet()
		}
		e["name"], e["kind"] = u.Name, u.Kind
		ups = append(ups, e)
	}
	m["upstreams"] = ups
	// A database URL may hold a password in forms no URL parser spots
	// ("password = x" keyword pairs), so it is never shown at all.
	if db, ok := m["database"].(map[string]any); ok && c.Database.URL != "" {
		db["url"] = redacted
	}
	m["secrets"] = map[string]any{
		"database":            setOrNot(c.Database.ConnString),
		"upstreams":           upSecrets,
		"idempotency_sealing": c.Idempotency.SealKey.IsSet(),
	}
	return m
}

// LogValue lets a logger print the config directly:
// log.Info("config", "config", cfg).
func (c *Config) LogValue() slog.Value { return slog.AnyValue(c.Redacted()) }

func setOrNot(s Secret) bool { return s.IsSet() }

var secretType = reflect.TypeFor[Secret]()

func redactValue(v reflect.Value) any {
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	if v.Type() == secretType {
		return v.Interface().(Secret).String()
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return redactValue(v.Elem())
	case reflect.Struct:
		m := map[string]any{}
		for name, i := range fieldsOf(v.Type()) {
			m[name] = redactValue(v.Field(i))
		}
		return m
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = redactValue(v.Index(i))
		}
		return out
	case reflect.String:
		return maskURL(v.String())
	}
	return v.Interface()
}

// maskURL hides a password in anything that parses as a URL with user
// info. Validation already refuses passwords in the file; this is the
// second lock on the same door.
func maskURL(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}
