package policycmd

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/ztbroker/ztbroker/internal/scope"
)

// labelFlags collects --label k=v.
type labelFlags map[string]string

func (l *labelFlags) Type() string { return "k=v" }

func (l *labelFlags) String() string { return fmt.Sprint(map[string]string(*l)) }

func (l *labelFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("label %q must be k=v", v)
	}
	if *l == nil {
		*l = labelFlags{}
	}
	(*l)[k] = val
	return nil
}

// readRequest builds the call to judge from the command line.
func readRequest(line, bodyPath string, labels labelFlags, owner string) (scope.Request, error) {
	method, target, ok := strings.Cut(strings.TrimSpace(line), " ")
	target = strings.TrimSpace(target)
	if !ok || method == "" || target == "" || strings.Contains(target, " ") {
		return scope.Request{}, fmt.Errorf("--request %q must be 'METHOD /path', e.g. 'GET /api/v2/network'", line)
	}
	r := scope.Request{
		Method: method, Target: target, Header: http.Header{},
		Lease: scope.Lease{ID: "policy-test", Owner: owner, Labels: labels},
	}
	if bodyPath != "" {
		b, err := os.ReadFile(bodyPath)
		if err != nil {
			return scope.Request{}, err
		}
		r.Body = b
	}
	return r, nil
}

func reportScope(w io.Writer, purpose, line string, sc *scope.Scope, r scope.Request) int {
	d, steps := sc.Explain(r)
	code := ExitDenied
	if d.Allowed {
		code = ExitAdmitted
		fwd := d.Path
		if d.Query != "" {
			fwd += "?" + d.Query
		}
		fmt.Fprintf(w, "purpose %s: %s ALLOWED by rule %s; forwards %s %s", purpose, line, d.Rule, d.Op.Method, fwd)
		if d.Body != nil {
			fmt.Fprintf(w, " with body %s", d.Body)
		}
		fmt.Fprintln(w)
	} else {
		fmt.Fprintf(w, "purpose %s: %s DENIED (%d %s): %s\n", purpose, line, d.Status, http.StatusText(d.Status), d.Message)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range steps {
		verdict := "no"
		if s.OK {
			verdict = "yes"
		}
		if d.Allowed && s.Check == "rule "+d.Rule {
			verdict += " *"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", s.Check, verdict, s.Detail)
	}
	_ = tw.Flush()
	return code
}
