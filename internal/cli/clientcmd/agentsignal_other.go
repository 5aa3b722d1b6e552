//go:build !unix

package clientcmd

import (
	"strings"
	"syscall"
)

func signalNamed(name string) (syscall.Signal, bool) {
	s, ok := map[string]syscall.Signal{"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "TERM": syscall.SIGTERM}[strings.TrimPrefix(strings.ToUpper(name), "SIG")]
	return s, ok
}
