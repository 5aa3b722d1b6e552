// Package agenttest proves `broker agent` against a live broker (the
// production server on PostgreSQL, in front of the in-process emulator),
// on fake time shared by the broker, the emulator and the agent: the
// sinks' contents and modes, the signal or restart the agent's command
// gets when the token changes, readiness, and the revocation on SIGTERM,
// checked at the emulator and in the store.
//
// The package holds only tests.
package agenttest
