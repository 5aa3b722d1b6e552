// Package certtest mints throwaway certificate authorities and leaf
// certificates for tests of TLS and client-certificate authentication.
// Keys are ECDSA P-256, which is fast to generate.
package certtest
