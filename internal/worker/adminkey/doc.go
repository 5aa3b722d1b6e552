// Package adminkey keeps each upstream's admin credential alive: it checks
// it at start-up, watches its expiry, reloads it when its file changes, and
// for New Central rotates it before it expires.
//
// The credential a client sends is an upstream.AdminCredential shared by
// every client of the upstream; the Keeper swaps its secret in place. Which
// secret is current is decided on every sync, on every replica, the same
// way: the key the broker last rotated to (stored sealed in PostgreSQL)
// while the configuration still names the key that rotation started from,
// else the configured key. So every replica moves to a rotated key at its
// next poll — or at once, when Central refuses the old one — without a
// restart, and an operator who installs a new key in the configuration
// takes over from the stored one.
//
// A rotation takes five steps, each recorded before the next:
//
//	started   the intent row (store.StartRotation), written before any call
//	minted    the new key exists and is stored sealed (RecordRotationKey)
//	switched  it is the current credential (SwitchRotation); every replica
//	          moves to it within credential_poll_interval
//	done      after the grace period the old key is deleted (FinishRotation)
//
// Only the holder of the upstream's rotation lock works on a rotation, so
// two replicas never rotate at once; whoever holds it next resumes an open
// rotation from its recorded state. A crash after started leaves at most a
// key with the rotation's description, which is found and deleted before
// minting again; after minted, the sealed key is switched to; after
// switched, the old key is deleted when the grace period is over. At every
// point one working key is in use and any other is the rotation's own,
// protected from cleanups until the rotation deletes it.
package adminkey
