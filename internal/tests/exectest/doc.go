// Package exectest proves `broker exec` and the CI features of `broker
// token issue` against a live broker: the production server wired by
// server.Config on pgstore and a real PostgreSQL, in front of the
// in-process ZeroTier emulator, driven by the clientcmd functions with an
// injected environment. Every test ends by checking, at the emulator and
// in the store, that the token it issued no longer works.
//
// The package holds only tests.
package exectest
