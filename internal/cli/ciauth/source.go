package ciauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ztbroker/ztbroker/internal/errs"
)

// Source yields the bearer credential for one call.
type Source interface {
	Token(ctx context.Context) (string, error)
}

// Static is a credential that never changes, such as an API key.
type Static string

// Token returns the key itself.
func (s Static) Token(context.Context) (string, error) { return string(s), nil }

// ErrSpec marks a malformed --oidc value: the caller's mistake, not a
// failure to authenticate.
var ErrSpec = errors.New("invalid OIDC token source")

// Config is what a spec needs beyond its own text.
type Config struct {
	// Audience is requested from token issuers that take one (GitHub).
	Audience string
	// Getenv reads the process environment.
	Getenv func(string) string
	// HTTPClient fetches tokens over HTTP; required for "github".
	HTTPClient *http.Client
}

// Parse turns a spec into a Source. The forms are:
//
//	github     the GitHub Actions ID token for cfg.Audience
//	env:VAR    the token in environment variable VAR (GitLab id_tokens)
//	file:PATH  the token in file PATH, re-read on each use
func Parse(spec string, cfg Config) (Source, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch {
	case spec == "github":
		return NewGitHubActions(cfg)
	case kind == "env" && arg != "":
		return EnvVar{Name: arg, Getenv: cfg.Getenv}, nil
	case kind == "file" && arg != "":
		return File{Path: arg}, nil
	}
	return nil, fmt.Errorf("%w %q: want github, env:VAR or file:PATH", ErrSpec, spec)
}

// unavailable reports a failure that a later attempt may not repeat, such
// as a network error on the way to a token endpoint.
func unavailable(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errs.Unavailable}, args...)...)
}

// unauthenticated reports a credential that could not be obtained. It wraps
// errs.Unauthenticated so callers can tell it from other failures.
func unauthenticated(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errs.Unauthenticated}, args...)...)
}
