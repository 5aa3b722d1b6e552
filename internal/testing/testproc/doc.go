// Package testproc runs the real broker binary for tests: it builds
// cmd/broker once per test process, starts the emulator and the server as
// child processes, learns their addresses from their own ready lines,
// and kills whatever is still running when the test ends.
//
// A process's stderr is kept (a bounded tail) so a failing test can say
// what the process was doing; it is written to the test log only when
// the test has failed.
package testproc
