// Package emulator fakes the two ZeroTier Central APIs the broker uses —
// New Central (v2) service-account API keys and Legacy (v1) user tokens —
// on one http.Handler, for tests and for running the broker locally.
//
// It is a fake to test against, not a model of every Central behaviour:
// where ZeroTier's behaviour is undocumented (the status for deleting a
// missing key, whether expired keys vanish from listings) it is an option,
// so the clients can be tested against both readings.
//
// Tokens are stored only as SHA-256 hashes; the ground truth the admin API
// exposes (under /_emulator/, guarded by the admin credential) names tokens
// by id, name, hash and expiry, never by value. Every request is counted by
// route and status, and faults — errors, latency, hangs, 429s, a global
// request rate — can be injected per route, in process or over HTTP.
//
// Start runs one inside a test; Run is the "broker emulator" command.
package emulator
