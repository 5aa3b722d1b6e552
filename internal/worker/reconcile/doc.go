// Package reconcile compares what ZeroTier holds with what the store says
// and repairs the difference, as a backstop for every path that can leave
// a token behind: a crash the sweeper could not see, a lease row removed by
// hand, a forgotten lease whose token the operator could not delete.
//
// For each configured issuer a run lists the account's tokens, keeps only
// those named exactly "<prefix>-<purpose>-<lease id>" with a well-formed
// purpose and lease id (lease.ParseUpstreamName; anything else belongs to
// someone else and is never deleted as an orphan), and matches them to
// the store's leases on that account: by token id, or by name for a lease
// that has not recorded an id yet. A token is an orphan, and is deleted,
// unless its lease is live. A pending lease younger than PendingTimeout is
// a mint in flight and its token is left alone; an older one is a crashed
// mint whose token is deleted here or by the sweeper, whichever is first.
//
// The listing is taken before the store is read. A lease row is written
// before its token is minted, so every token in the listing has its row
// visible to the later read, and a mint racing the run cannot look like an
// orphan.
//
// Active leases whose token has vanished upstream are flagged (log, metric
// and an "upstream_vanished" audit event, once per lease per process); the
// store has no state for them, and the revocation worker ends them at
// expiry as usual.
//
// On accounts a Guard names, every other token is somebody else's: the
// admin credential and a rotation's keys (marked Protected by the client,
// which also refuses to delete them), a key a recorded rotation minted
// (the rotation cleans up after itself), or else a foreign credential — a
// lease holder's own key, made with the rights its lease gave it. Each
// foreign credential is reported once across replicas (the store records
// the sighting; the audit event rides in the same statement), naming its
// creation time and the leases live then; in delete mode it is deleted
// too. The org watch reports new service accounts the same way and never
// deletes them.
package reconcile
