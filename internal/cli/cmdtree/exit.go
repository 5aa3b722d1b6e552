package cmdtree

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// ExitUsage is the exit code of a mistake on the command line, the same
// for every command.
const ExitUsage = 2

// exitError carries a code for a failure the command has already
// reported, so Run prints nothing more.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Exit turns a command's exit code into what its RunE returns: nil for 0.
func Exit(code int) error {
	if code == 0 {
		return nil
	}
	return &exitError{code: code}
}

// UsageError is a mistake on the command line, not yet reported.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef reports a command-line mistake; Run prints it and exits 2.
func Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// Run executes root with args and returns the process exit code. Errors
// not yet reported are printed on one line, "broker: ...", on stderr.
func Run(ctx context.Context, root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	Prepare(root)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintf(stderr, "broker: %s\n", strings.TrimRight(err.Error(), "\n"))
	var ue *UsageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return ExitUsage
	}
	return 1
}

// isCobraUsage recognises the few usage errors cobra makes itself, before
// any command of ours runs (an unknown flag is ours, via FlagErrorFunc).
func isCobraUsage(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "unknown shorthand") ||
		strings.Contains(msg, "arg(s)") || strings.HasPrefix(msg, "invalid argument")
}
