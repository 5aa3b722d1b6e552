package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// auth checks the shape of the auth section. Whether owners name real
// identities and whether an OIDC issuer is usable are the auth packages'
// rules, applied through Options.Checks.
func (v *validator) auth() {
	a := &v.c.Auth
	v.apiKeys()
	if a.OIDC != nil {
		for i := range a.OIDC.Issuers {
			v.resolvePath(&a.OIDC.Issuers[i].CAFile)
		}
	}
	if a.MTLS.Enabled {
		t := v.c.Listen.TLS
		if t == nil || t.ClientAuth == ClientAuthNone || t.ClientAuth == "" {
			v.add("auth.mtls.enabled", "needs listen.tls with client_auth request or require")
		}
	}
	if len(a.APIKeys) == 0 && a.OIDC == nil && !a.MTLS.Enabled {
		v.add("auth", "no authentication method configured: set api_keys, oidc or mtls")
	}
}

func (v *validator) apiKeys() {
	names := map[string]bool{}
	hashes := map[string]string{}
	for i := range v.c.Auth.APIKeys {
		k := &v.c.Auth.APIKeys[i]
		path := fmt.Sprintf("auth.api_keys[%d]", i)
		switch {
		case !keyName.MatchString(k.Name):
			v.add(path+".name", "must be 1-63 of [a-z0-9_.-], got %q", k.Name)
		case names[k.Name]:
			v.add(path+".name", "duplicate api key name %q", k.Name)
		}
		names[k.Name] = true
		switch {
		case k.SHA256 != "" && k.KeyEnv != "":
			v.add(path, "set sha256 or key_env, not both")
		case k.SHA256 != "":
			b, err := hex.DecodeString(k.SHA256)
			if err != nil || len(b) != sha256.Size {
				v.add(path+".sha256", "must be %d hex characters", 2*sha256.Size)
				continue
			}
			k.Hash = hex.EncodeToString(b)
		case k.KeyEnv != "":
			s := v.env(path+".key_env", k.KeyEnv)
			if s.IsSet() {
				sum := sha256.Sum256(s.Bytes())
				k.Hash = hex.EncodeToString(sum[:])
				k.keyLen = len(s.Bytes())
			}
		default:
			v.add(path+".sha256", "is required (or key_env)")
		}
		if k.Hash == "" {
			continue
		}
		if other, dup := hashes[k.Hash]; dup {
			v.add(path, "has the same key as %q", other)
		}
		hashes[k.Hash] = k.Name
	}
}
