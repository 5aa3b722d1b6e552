// Package proxycred makes and checks broker credentials: the secrets that
// a lease of a proxy purpose hands out instead of a ZeroTier token.
//
// A credential is "ztbp_", 40 characters drawn uniformly from [0-9A-Za-z]
// by crypto/rand (about 238 bits), and 6 characters of a CRC-32 of those
// 40, in the same alphabet. The fixed prefix and length let secret
// scanners find a leaked credential; the checksum lets them, and the
// proxy, reject a mistyped or made-up one without a database read. The
// checksum protects nothing: the 40 random characters do. The broker keeps
// only a credential's SHA-256 (lease.HashToken).
package proxycred
