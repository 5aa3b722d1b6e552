package clientcmd

import (
	"fmt"
	"strings"
	"unicode"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// callError is a failed RPC in the words a person reads: "permission
// denied: <the broker's client-safe message>". It keeps the status so exit
// codes and errors.As still see the gRPC code.
type callError struct {
	st       *status.Status
	attempts int
	// note explains why retrying stopped early, if it did.
	note string
}

func (e *callError) Error() string {
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

// GRPCStatus lets status.FromError and status.Code see through the wrapper.
func (e *callError) GRPCStatus() *status.Status { return e.st }

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
