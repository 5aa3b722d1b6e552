// Package lease defines the broker's domain: a lease, its states, and the
// sentinel errors every layer above the store speaks.
//
// A lease moves through these states. Every arrow is one committed row
// update, so a crash between any two of them leaves a state that a worker
// can finish:
//
//	            mint ok                 expire / revoke
//	pending ────────────▶ active ─────────────────────▶ revoking
//	   │                    │                              │  │
//	   │ mint failed,       │ renew                        │  │ upstream delete ok
//	   │ or stale and       ▼ (stays active)               │  ▼
//	   │ swept upstream   active                           │ revoked
//	   ▼                                                   │
//	 failed                         attempts exhausted     ▼
//	                                revoke_failed ──(slow retry ok)──▶ revoked
//	                                      │
//	                                      └──(operator forget)──▶ revoked
//
// A pending lease is written before ZeroTier is called, so a token can only
// exist upstream if a row names it. The upstream token's name carries the
// lease id, which is how a crashed mint is found and deleted again.
package lease
