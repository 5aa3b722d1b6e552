package config

import (
	"fmt"
	"io/fs"
	"os"
)

// minAPIKeyBytes is the shortest API key that is not a warning: 32 bytes
// of randomness (say, `openssl rand -hex 32`) cannot be guessed, while a
// short or memorable key might be.
const minAPIKeyBytes = 32

// Warnings are what the broker will run with but should not: the file is
// valid, the setup is weak. Serve logs each at start-up.
func (c *Config) Warnings() []string { return c.warnings }

func (v *validator) warn(path, format string, args ...any) {
	v.c.warnings = append(v.c.warnings, path+": "+fmt.Sprintf(format, args...))
}

// warnings collects the weak spots of a valid config.
func (v *validator) warnings() {
	l := v.c.Listen
	for _, a := range []struct{ path, addr string }{{"listen.grpc_addr", l.GRPCAddr}, {"listen.http_addr", l.HTTPAddr}} {
		if v.c.PlaintextExposed(a.addr) {
			v.warn(a.path, "%s serves without TLS on an address other than loopback; bearer credentials and tokens cross the network in the clear (set listen.tls, or terminate TLS in front of the broker)", a.addr)
		}
	}
	if v.o.SkipSecrets {
		return
	}
	files := []struct{ path, name string }{}
	if t := l.TLS; t != nil {
		files = append(files, struct{ path, name string }{"listen.tls.key_file", t.KeyFile})
	}
	for _, u := range v.c.Upstreams {
		switch {
		case u.NewCentral != nil:
			files = append(files, struct{ path, name string }{u.Path + ".admin_key_file", u.NewCentral.AdminKeyFile})
		case u.Legacy != nil:
			files = append(files, struct{ path, name string }{u.Path + ".token_file", u.Legacy.TokenFile})
		}
	}
	files = append(files, struct{ path, name string }{"idempotency.seal_key_file", v.c.Idempotency.SealKeyFile})
	for _, f := range files {
		if f.name == "" {
			continue
		}
		if info, err := v.o.Stat(f.name); err == nil && info.Mode().Perm()&0o077 != 0 {
			v.warn(f.path, "%s is readable by others (mode %v); make it 0600 or 0400, owned by the broker's user", f.name, info.Mode().Perm())
		}
	}
	for i, k := range v.c.Auth.APIKeys {
		if k.keyLen > 0 && k.keyLen < minAPIKeyBytes {
			v.warn(fmt.Sprintf("auth.api_keys[%d]", i), "key %q is %d bytes; use at least %d random bytes", k.Name, k.keyLen, minAPIKeyBytes)
		}
	}
}

func defaultStat(name string) (fs.FileInfo, error) { return os.Stat(name) }
