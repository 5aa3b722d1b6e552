// Package legacy is the upstream.Issuer for the Legacy Central API (v1):
// user API tokens on one ZeroTier user. Legacy tokens have no expiry, so
// the broker's revocation is the only thing that ends them; and the client
// chooses the token value, so it is generated here from crypto/rand.
package legacy
