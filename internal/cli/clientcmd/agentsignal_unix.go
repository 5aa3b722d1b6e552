//go:build unix

package clientcmd

import (
	"strings"
	"syscall"
)

// reloadSignals are the signals --exec-reload may name.
var reloadSignals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "INT": syscall.SIGINT,
	"TERM": syscall.SIGTERM, "QUIT": syscall.SIGQUIT, "WINCH": syscall.SIGWINCH, "ALRM": syscall.SIGALRM,
}

func signalNamed(name string) (syscall.Signal, bool) {
	s, ok := reloadSignals[strings.TrimPrefix(strings.ToUpper(name), "SIG")]
	return s, ok
}
