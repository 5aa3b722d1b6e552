// Package lease defines the broker's central record, the lease: its
// fields, its states and the transitions between them.
//
// A lease moves through these states. Every arrow is one committed row
// update, so a crash between any two of them leaves a state that a worker
// can finish:
//
//	            mint ok                 expire, or a revoke whose
//	pending ────────────▶ active ─────────────────────▶ revoking
//	   │                  │  │       delete failed         │  │
//	   │ mint failed,     │  │ renew                       │  │ upstream delete ok
//	   │ or stale and     │  ▼ (stays active)              │  ▼
//	   │ swept upstream   │ active                         │ revoked
//	   ▼                  │                                │
//	 failed               │ revoke, upstream delete        ▼ attempts exhausted
//	                      │ ok at once              revoke_failed ──(slow retry ok)──▶ revoked
//	                      ▼                                │
//	                   revoked                             └──(operator forget)──▶ revoked
//
// An explicit revoke deletes the token upstream before it writes, and
// takes the direct arrow from active to revoked only once the delete has
// succeeded. Its crash points:
//
//   - before the delete: nothing changed; the token lives until the
//     lease expires and the revoker deletes it, exactly as for a lease
//     nobody revoked. The caller had no answer and may retry.
//   - after the delete, before the write commits: the row still says
//     active, but the token is already gone upstream. At expiry the
//     revoker claims the lease, its delete finds nothing (which counts as
//     deleted) and it marks the lease revoked. No credential outlives its
//     lease; for that one lease the audit trail shows an unrevoked expiry
//     rather than the request, which got no answer. A retried request
//     records it.
//   - after the write: the lease is revoked with both audit events, the
//     request's and the completion's.
//
// When the delete fails the revoke falls back to the arrow through
// revoking, which records the attempt so that the revoker retries it
// with backoff: the promises for failures are those of the worker.
//
// A pending lease is written before ZeroTier is called, so a token can only
// exist upstream if a row names it. The upstream token's name carries the
// lease id, which is how a crashed mint is found and deleted again.
//
// A proxy lease (Delivery "proxy") takes the same states. Its "mint" makes
// a broker credential and nothing upstream, so revoking -> revoked needs
// no upstream delete, and its credential is refused as soon as the lease
// is not active or is past its expire time, whatever the revoker's lag.
package lease
