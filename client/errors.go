package client

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrClosed is returned by a TokenSource, and by the HTTP clients built on
// one, after Close.
var ErrClosed = errors.New("ztbroker client: token source closed")

// StatusError is a broker call that failed, after whatever retrying the
// failure allowed. Its text is the status in words followed by the
// broker's client-safe message, e.g. "permission denied: no rule of
// purpose "netops" admits caller ...". status.Code and status.FromError
// see through it (and through any wrapping) to the gRPC status.
type StatusError struct {
	st       *status.Status
	attempts int
	// note explains why retrying stopped early, if it did.
	note string

	// retry and delay classify the failure for the token source, which
	// paces its own attempts: whether a later attempt may succeed, and the
	// broker's requested delay when serverDelay is set.
	retry       bool
	delay       time.Duration
	serverDelay bool
}

func (e *StatusError) Error() string {
	var b strings.Builder
	b.WriteString(codeWords(e.st.Code()))
	if m := e.st.Message(); m != "" && !strings.EqualFold(m, codeWords(e.st.Code())) {
		b.WriteString(": ")
		b.WriteString(m)
	}
	switch {
	case e.note != "":
		fmt.Fprintf(&b, " (%s)", e.note)
	case e.attempts > 1:
		fmt.Fprintf(&b, " (after %s)", attempts(e.attempts))
	}
	return b.String()
}

// GRPCStatus is the status the broker (or the transport) answered.
func (e *StatusError) GRPCStatus() *status.Status { return e.st }

// Code is the status code.
func (e *StatusError) Code() codes.Code { return e.st.Code() }

// Attempts is how many times the call was sent.
func (e *StatusError) Attempts() int { return e.attempts }

// Temporary reports whether the failure is one a later attempt may cure:
// UNAVAILABLE, RESOURCE_EXHAUSTED or ABORTED.
func (e *StatusError) Temporary() bool { return e.retry }

// codeWords turns PermissionDenied into "permission denied".
func codeWords(c codes.Code) string {
	if c == codes.OK {
		return "ok"
	}
	var b strings.Builder
	for i, r := range c.String() {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte(' ')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return strconv.Itoa(n) + " attempts"
}
