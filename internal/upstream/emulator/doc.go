// Package emulator fakes the two ZeroTier Central APIs the broker uses —
// New Central (v2) service-account API keys and Legacy (v1) user tokens —
// on one http.Handler, for tests and for running the broker locally.
//
// It also serves the network and member routes of both APIs (list, get,
// create, update, delete, and v2's member actions), one shared model seen
// through each API's JSON shapes, for the broker's scoped proxy to be
// tested against. Any API key may do what a real service-account key may:
// create service accounts and keys, so tests can prove the proxy refuses.
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
// The admin API (Authorization: Bearer <admin token>):
//
//	GET    /_emulator/tokens          ground truth (GroundTruth)
//	GET    /_emulator/networks        networks and members ([]NetworkTruth)
//	GET    /_emulator/counters        {route: {status: count}}
//	GET    /_emulator/faults          FaultSet
//	PUT    /_emulator/faults          replace every fault and the rate limit
//	PUT    /_emulator/faults/{route}  set one route's Fault
//	DELETE /_emulator/faults/{route}  clear one route's Fault
//	POST   /_emulator/clock           {"advance": "1h"}: move the clock on
//	POST   /_emulator/keys            SeedKeysRequest: add many keys at once
//	POST   /_emulator/reset           forget tokens, faults, counters, clock
//
// AdminClient wraps it. Start runs an emulator inside a test; Run is the
// "broker emulator" command.
package emulator
