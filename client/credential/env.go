package credential

import (
	"context"
	"os"
	"strings"
)

// EnvVar reads the token from an environment variable on each use, the way
// GitLab CI hands over id_tokens.
type EnvVar struct {
	Name string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// Token returns the variable's value without surrounding whitespace.
func (e EnvVar) Token(context.Context) (string, error) {
	getenv := e.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	tok := strings.TrimSpace(getenv(e.Name))
	if tok == "" {
		return "", unauthenticated("environment variable %s holding the OIDC token is empty or unset", e.Name)
	}
	return tok, nil
}
