package clientcmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// connFlags are the connection options every command takes. Each falls
// back to an environment variable, so CI configures them once per job.
type connFlags struct {
	addr, apiKey, apiKeyFile, oidc, audience string
	tlsCA, tlsCert, tlsKey                   string
	timeout, insecure                        string
	vars                                     []connVar
}

// connVar ties a flag to its environment variable and default.
type connVar struct {
	flag, env, def string
	dst            *string
}

func (c *connFlags) register(fs *pflag.FlagSet) {
	c.vars = []connVar{
		{"addr", "BROKER_ADDR", "127.0.0.1:9090", &c.addr},
		{"api-key", "BROKER_API_KEY", "", &c.apiKey},
		{"api-key-file", "BROKER_API_KEY_FILE", "", &c.apiKeyFile},
		{"oidc", "BROKER_OIDC", "", &c.oidc},
		{"oidc-audience", "BROKER_OIDC_AUDIENCE", "ztbroker", &c.audience},
		{"tls-ca", "BROKER_TLS_CA", "", &c.tlsCA},
		{"tls-cert", "BROKER_TLS_CERT", "", &c.tlsCert},
		{"tls-key", "BROKER_TLS_KEY", "", &c.tlsKey},
		{"timeout", "BROKER_TIMEOUT", "60s", &c.timeout},
		{"insecure", "BROKER_INSECURE", "false", &c.insecure},
	}
	help := map[string]string{
		"addr":          "broker gRPC address `host:port`",
		"api-key":       "API `key` to authenticate with; on the command line it shows in ps, so prefer the environment or --api-key-file",
		"api-key-file":  "read the API key from `file` (- for the first line of standard input)",
		"oidc":          "authenticate with a workload token from `source`: github, env:VAR or file:PATH",
		"oidc-audience": "`audience` to request for --oidc github",
		"tls-ca":        "`file` of PEM CA certificates that sign the broker's certificate",
		"tls-cert":      "client certificate `file` (PEM) for mTLS",
		"tls-key":       "client key `file` (PEM) for mTLS",
		"timeout":       "overall deadline (a `duration`) for the command's broker calls, retries included",
		"insecure":      "use plaintext even to a non-loopback address",
	}
	for _, v := range c.vars {
		usage := help[v.flag] + " (env " + v.env
		if v.def != "" && v.def != "false" {
			usage += ", default " + v.def
		}
		usage += ")"
		if v.flag == "insecure" {
			dst := v.dst
			fs.BoolFunc(v.flag, usage, func(s string) error { *dst = s; return nil })
			continue
		}
		fs.StringVar(v.dst, v.flag, "", usage)
	}
}

// connConfig is connFlags after flags, environment and defaults are merged
// and checked.
type connConfig struct {
	addr, apiKey, oidc, audience string
	tlsCA, tlsCert, tlsKey       string
	timeout                      time.Duration
	insecure                     bool
}

// maxAPIKeyFileBytes bounds what --api-key-file reads.
const maxAPIKeyFileBytes = 4096

func (c *connFlags) resolve(fs *pflag.FlagSet, env Env) (connConfig, error) {
	set := map[string]bool{}
	fs.Visit(func(f *pflag.Flag) { set[f.Name] = true })
	for _, v := range c.vars {
		if set[v.flag] {
			continue
		}
		if *v.dst = env.getenv(v.env); *v.dst == "" {
			*v.dst = v.def
		}
	}
	if set["api-key"] {
		report(env.Stderr, "warning: ", errors.New("--api-key on the command line is visible to other users of this machine "+
			"(ps, /proc); pass it in BROKER_API_KEY or with --api-key-file instead"))
	}
	if c.apiKeyFile != "" {
		if c.apiKey != "" {
			return connConfig{}, usagef("give either --api-key (BROKER_API_KEY) or --api-key-file (BROKER_API_KEY_FILE), not both")
		}
		key, err := readAPIKey(c.apiKeyFile, env.Stdin)
		if err != nil {
			return connConfig{}, err
		}
		c.apiKey = key
	}
	cfg := connConfig{
		addr: c.addr, apiKey: c.apiKey, oidc: c.oidc, audience: c.audience,
		tlsCA: c.tlsCA, tlsCert: c.tlsCert, tlsKey: c.tlsKey,
	}
	var err error
	if cfg.timeout, err = time.ParseDuration(c.timeout); err != nil || cfg.timeout <= 0 {
		return cfg, usagef("--timeout / BROKER_TIMEOUT must be a positive duration such as 60s, got %q", c.timeout)
	}
	if cfg.insecure, err = strconv.ParseBool(c.insecure); err != nil {
		return cfg, usagef("--insecure / BROKER_INSECURE must be true or false, got %q", c.insecure)
	}
	switch {
	case cfg.addr == "":
		return cfg, usagef("--addr / BROKER_ADDR is empty")
	case cfg.apiKey != "" && cfg.oidc != "":
		return cfg, usagef("give either --api-key (BROKER_API_KEY) or --oidc (BROKER_OIDC), not both")
	case (cfg.tlsCert == "") != (cfg.tlsKey == ""):
		return cfg, usagef("--tls-cert and --tls-key (BROKER_TLS_CERT, BROKER_TLS_KEY) go together")
	case cfg.insecure && (cfg.tlsCA != "" || cfg.tlsCert != ""):
		return cfg, usagef("--insecure contradicts --tls-ca/--tls-cert")
	}
	return cfg, nil
}

// readAPIKey reads a key from a file, or from the first line of stdin for
// "-". Stdin is read a byte at a time so that exec's command gets the
// rest of it.
func readAPIKey(path string, stdin io.Reader) (string, error) {
	var key string
	if path == "-" {
		if stdin == nil {
			return "", usagef("--api-key-file -: there is no standard input to read the key from")
		}
		var b strings.Builder
		one := make([]byte, 1)
		for b.Len() <= maxAPIKeyFileBytes {
			n, err := stdin.Read(one)
			if n == 1 {
				if one[0] == '\n' {
					break
				}
				b.WriteByte(one[0])
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return "", fmt.Errorf("--api-key-file -: read standard input: %w", err)
			}
		}
		key = b.String()
	} else {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("--api-key-file: %w", err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, maxAPIKeyFileBytes+1))
		if err != nil {
			return "", fmt.Errorf("--api-key-file: %w", err)
		}
		key = string(data)
	}
	if len(key) > maxAPIKeyFileBytes {
		return "", usagef("--api-key-file %s: longer than %d bytes; is it the right file?", path, maxAPIKeyFileBytes)
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return "", usagef("--api-key-file %s holds no key", path)
	}
	return key, nil
}
