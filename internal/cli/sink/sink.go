package sink

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
	"time"
)

// Data is what a sink renders: one token and its lease.
type Data struct {
	Token      string
	APIBaseURL string
	AuthScheme string
	LeaseID    string
	Purpose    string
	Expires    time.Time
}

// Sink is one file the agent keeps up to date.
type Sink struct {
	Path   string
	render func(Data) ([]byte, error)
	kind   string
}

// Render is the file's contents for d.
func (s Sink) Render(d Data) ([]byte, error) { return s.render(d) }

// String names the sink for messages.
func (s Sink) String() string { return s.kind + ":" + s.Path }

// Parse reads a --sink value: "file:PATH" (the token alone, no newline) or
// "env-file:PATH" (NAME=value lines).
func Parse(spec string) (Sink, error) {
	kind, path, _ := strings.Cut(spec, ":")
	if path == "" {
		return Sink{}, fmt.Errorf("sink %q: want file:PATH or env-file:PATH", spec)
	}
	path = filepath.Clean(path)
	switch kind {
	case "file":
		return Sink{Path: path, kind: kind, render: func(d Data) ([]byte, error) { return []byte(d.Token), nil }}, nil
	case "env-file":
		return Sink{Path: path, kind: kind, render: renderEnv}, nil
	}
	return Sink{}, fmt.Errorf("sink %q: want file:PATH or env-file:PATH", spec)
}

// ParseTemplate reads a --template value, "SRC:OUT": the text/template in
// file SRC, rendered with Data into OUT. The template is read and parsed
// now, so that a mistake stops the agent before it issues anything.
func ParseTemplate(spec string) (Sink, error) {
	src, out, ok := strings.Cut(spec, ":")
	if !ok || src == "" || out == "" {
		return Sink{}, fmt.Errorf("template %q: want SRC:OUT", spec)
	}
	text, err := os.ReadFile(src)
	if err != nil {
		return Sink{}, fmt.Errorf("template %q: %w", spec, err)
	}
	tmpl, err := template.New(filepath.Base(src)).Option("missingkey=error").Parse(string(text))
	if err != nil {
		return Sink{}, fmt.Errorf("template %q: %w", spec, err)
	}
	render := func(d Data) ([]byte, error) {
		var b bytes.Buffer
		if err := tmpl.Execute(&b, d); err != nil {
			// The execution error may quote data; say only where.
			return nil, fmt.Errorf("render template %s: %s", src, firstLine(err.Error()))
		}
		return b.Bytes(), nil
	}
	return Sink{Path: filepath.Clean(out), kind: "template", render: render}, nil
}

// The variables an env file sets, the same names `broker exec` uses.
const (
	EnvToken      = "ZEROTIER_CENTRAL_TOKEN"
	EnvURL        = "ZEROTIER_CENTRAL_URL"
	EnvAuthScheme = "ZEROTIER_AUTH_SCHEME"
	EnvLeaseID    = "ZTBROKER_LEASE_ID"
)

// plain values need no quoting in a shell, a systemd EnvironmentFile or
// docker's --env-file, which takes quotes literally.
var plain = regexp.MustCompile(`^[A-Za-z0-9_./:@%+,=-]*$`)

func renderEnv(d Data) ([]byte, error) {
	var b bytes.Buffer
	for _, kv := range [][2]string{
		{EnvToken, d.Token}, {EnvURL, d.APIBaseURL}, {EnvAuthScheme, d.AuthScheme}, {EnvLeaseID, d.LeaseID},
	} {
		v := kv[1]
		if !plain.MatchString(v) {
			if strings.ContainsAny(v, "\n\r") {
				return nil, fmt.Errorf("env file: %s holds a line break", kv[0])
			}
			v = "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
		}
		fmt.Fprintf(&b, "%s=%s\n", kv[0], v)
	}
	return b.Bytes(), nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
