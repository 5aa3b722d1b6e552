//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package clientcmd

// isTerminal reports false where it cannot tell, so signals are forwarded.
func isTerminal(uintptr) bool { return false }
