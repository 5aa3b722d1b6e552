package credential

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// Source yields the bearer credential for one call. Implementations must be
// safe for concurrent use.
type Source interface {
	Token(ctx context.Context) (string, error)
}

// Static is a credential that never changes, such as an API key.
type Static string

// Token returns the key itself.
func (s Static) Token(context.Context) (string, error) { return string(s), nil }

// String keeps the key out of any accidental %v.
func (Static) String() string { return "static(redacted)" }

var (
	// ErrUnauthenticated marks a credential that could not be obtained:
	// missing, empty, unreadable, or refused by the token endpoint.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrUnavailable marks a failure that a later attempt may not repeat,
	// such as a network error or an HTTP 5xx or 429 from a token endpoint.
	ErrUnavailable = errors.New("unavailable")
	// ErrSpec marks a malformed source spec given to Parse: the caller's
	// mistake, not a failure to authenticate.
	ErrSpec = errors.New("invalid OIDC token source")
)

// Config is what a source needs beyond its spec.
type Config struct {
	// Audience is requested from token issuers that take one (GitHub).
	Audience string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// HTTPClient fetches tokens over HTTP (GitHub); nil means a client
	// with a 30 second timeout.
	HTTPClient *http.Client
}

func (c Config) getenv() func(string) string {
	if c.Getenv == nil {
		return os.Getenv
	}
	return c.Getenv
}

func (c Config) httpClient() *http.Client {
	if c.HTTPClient == nil {
		return &http.Client{Timeout: 30 * time.Second}
	}
	return c.HTTPClient
}

// Parse turns a spec, as the broker command line's --oidc flag takes it,
// into a Source. The forms are:
//
//	github     the GitHub Actions ID token for cfg.Audience
//	env:VAR    the token in environment variable VAR (GitLab id_tokens)
//	file:PATH  the token in file PATH, re-read on each use (Kubernetes)
func Parse(spec string, cfg Config) (Source, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch {
	case spec == "github":
		return NewGitHubActions(cfg)
	case kind == "env" && arg != "":
		return EnvVar{Name: arg, Getenv: cfg.getenv()}, nil
	case kind == "file" && arg != "":
		return File{Path: arg}, nil
	}
	return nil, fmt.Errorf("%w %q: want github, env:VAR or file:PATH", ErrSpec, spec)
}

// unavailable reports a failure that a later attempt may not repeat.
func unavailable(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnavailable}, args...)...)
}

// unauthenticated reports a credential that could not be obtained.
func unauthenticated(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnauthenticated}, args...)...)
}
