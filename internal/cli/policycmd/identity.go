package policycmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/ztbroker/ztbroker/internal/auth"
)

// identityFile is the JSON a user writes to describe a caller.
type identityFile struct {
	Kind    string         `json:"kind"`
	Subject string         `json:"subject"`
	Claims  map[string]any `json:"claims"`
}

// readIdentity loads and checks an identity file. Numbers become int64
// when whole, as the OIDC authenticator produces them, so rules behave
// the same here as in the broker.
func readIdentity(path string) (*auth.Identity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var f identityFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: more than one JSON value", path)
	}
	switch f.Kind {
	case auth.KindAPIKey, auth.KindMTLS, auth.KindOIDC:
	default:
		return nil, fmt.Errorf("%s: kind must be %s, %s or %s, got %q", path, auth.KindAPIKey, auth.KindMTLS, auth.KindOIDC, f.Kind)
	}
	if f.Subject == "" {
		return nil, errors.New(path + ": subject is required")
	}
	claims, _ := auth.NormalizeClaims(f.Claims).(map[string]any)
	return &auth.Identity{Kind: f.Kind, Subject: f.Subject, Claims: claims}, nil
}
