// Package lease defines the broker's central record, the lease: its
// fields, its states and the transitions between them.
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
//
// A proxy lease (Delivery "proxy") takes the same states. Its "mint" makes
// a broker credential and nothing upstream, so revoking -> revoked needs
// no upstream delete, and its credential is refused as soon as the lease
// is not active or is past its expire time, whatever the revoker's lag.
package lease
