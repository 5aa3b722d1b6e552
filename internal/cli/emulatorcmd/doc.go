// Package emulatorcmd is the "broker emulator" command: it runs the
// ZeroTier Central emulator as its own process, for docker-compose and for
// tests that want the upstream outside the broker's process.
package emulatorcmd
