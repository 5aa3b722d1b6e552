// Package broker implements the TokenBroker and AdminService gRPC APIs: it
// checks who may have which token, writes the lease before it mints
// upstream, and hands the secret back exactly once.
//
// Issuance is ordered so that a crash at any point leaves a state some
// worker finishes: pending row → upstream mint → active row. If the mint
// fails ambiguously the broker looks the token up by name and deletes it;
// if that fails too the lease stays pending and the sweeper deletes the
// token later. The secret itself is never written anywhere but the
// response (and, when idempotent replay is configured, sealed with
// AES-256-GCM for a short window).
//
// Errors leave this package through toStatus alone, which maps domain
// sentinels to gRPC codes with fixed, client-safe messages.
package broker
