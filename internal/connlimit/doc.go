// Package connlimit bounds the open connections of a listener, in all and
// optionally from any one remote address. A connection accepted beyond a
// bound is reset at once and counted. The per-address bound keeps one
// peer that reconnects as fast as it is closed from holding every slot
// while others wait; it is off by default, because behind a proxy or a
// NAT every client shares the proxy's address.
//
// golang.org/x/net/netutil.LimitListener bounds connections too, but by
// not calling Accept while full: excess connections then wait, unseen, in
// the kernel's backlog, and their clients hang until their own timeout.
// Closing them instead fails those clients fast, shows the pressure in a
// metric, and keeps the backlog free for when a slot opens.
package connlimit
