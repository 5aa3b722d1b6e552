package oidcauth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// BenchmarkAuthenticateWarm measures verifying one CI token once the
// issuer's discovery document and JWKS are cached: the cost every
// OIDC-authenticated request pays.
func BenchmarkAuthenticateWarm(b *testing.B) {
	for _, alg := range []string{"ES256", "RS256"} {
		b.Run(alg, func(b *testing.B) {
			bb := setup(b, nil)
			key := bb.key
			if alg == "RS256" {
				priv, err := rsa.GenerateKey(rand.Reader, 2048)
				if err != nil {
					b.Fatal(err)
				}
				key = signingKey{priv: priv, kid: "rsa", alg: jose.RS256}
				bb.idp.publish(key)
			}
			token := sign(b, key, bb.claims(nil))
			if _, err := bb.auth(token); err != nil { // warms discovery and keys
				b.Fatal(err)
			}
			hits := bb.idp.jwksHits.Load()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := bb.auth(token); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if got := bb.idp.jwksHits.Load(); got != hits {
				b.Fatalf("JWKS fetched %d more times during the loop; the cache was not warm", got-hits)
			}
		})
	}
}
