// Package emulatortest runs the ZeroTier Central emulator on a test's
// loopback port and hands out real upstream clients already pointed at it.
// It lives apart from package emulator so that the broker binary, which
// serves the emulator in dev mode, does not link testing or httptest.
package emulatortest
