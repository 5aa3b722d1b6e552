// Package brokertest runs the production broker — server.Config wired as
// `broker serve` wires it — in a test process, in front of the in-process
// ZeroTier emulator, for tests of the broker's clients: the Go client, the
// agent and the GitHub Action.
//
// Start runs it on a fresh PostgreSQL database for one test; StartExample
// runs it on the in-memory store for runnable examples, which have no
// *testing.T. Both listen on loopback ports and can share a fake clock
// with the emulator and the client under test, so a test can move a lease
// through renewals and expiry without sleeping.
//
// It is test support: only tests import it.
package brokertest
