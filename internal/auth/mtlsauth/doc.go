// Package mtlsauth identifies callers by the client certificate the TLS
// layer verified: the SPIFFE ID from a spiffe:// URI SAN when there is
// one ("mtls:spiffe://..."), else the subject common name in a namespace
// of its own ("mtls:cn:<CN>"). A common name that parses as a URI is
// refused, so no certificate can name itself into a SPIFFE ID.
//
// The chain is verified at the handshake, but a gRPC connection can live
// far longer than its certificate, so validity is checked again on every
// request.
package mtlsauth
