// Package seal encrypts the few secrets the broker must keep for a short
// while — a minted token held for idempotent replay — with AES-256-GCM
// under a key from configuration. The lease id is bound in as additional
// data, so a sealed secret cannot be replayed under another lease.
package seal
