package ciauth

import (
	"context"
	"strings"
)

// EnvVar reads the token from an environment variable on each use, the way
// GitLab CI hands over id_tokens.
type EnvVar struct {
	Name   string
	Getenv func(string) string
}

// Token returns the variable's value without surrounding whitespace.
func (e EnvVar) Token(context.Context) (string, error) {
	tok := strings.TrimSpace(e.Getenv(e.Name))
	if tok == "" {
		return "", unauthenticated("environment variable %s holding the OIDC token is empty or unset", e.Name)
	}
	return tok, nil
}
