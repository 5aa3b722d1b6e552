// Package connlimit bounds the open connections of a listener. A
// connection accepted beyond the bound is closed at once and counted.
//
// golang.org/x/net/netutil.LimitListener bounds connections too, but by
// not calling Accept while full: excess connections then wait, unseen, in
// the kernel's backlog, and their clients hang until their own timeout.
// Closing them instead fails those clients fast, shows the pressure in a
// metric, and keeps the backlog free for when a slot opens.
package connlimit
