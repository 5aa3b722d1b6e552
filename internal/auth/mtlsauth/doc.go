// Package mtlsauth identifies callers by the client certificate the TLS
// layer verified: the SPIFFE ID from a spiffe:// URI SAN when there is
// one, else the subject common name.
//
// The chain is verified at the handshake, but a gRPC connection can live
// far longer than its certificate, so validity is checked again on every
// request.
package mtlsauth
