// Package startstop gives background workers one start/stop discipline:
// Start launches a single goroutine bound to the caller's context, Stop
// cancels it and returns only after it has finished, and both may be
// called any number of times, in any order, from any goroutine.
//
// Workers embed a Runner instead of each hand-rolling the mutex, cancel
// func and done channel, which is where shutdown races usually hide, and
// wait between passes with Sleep so that Stop never waits out an interval.
package startstop
