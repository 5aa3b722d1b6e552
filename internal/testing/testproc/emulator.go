package testproc

import (
	"bytes"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"

	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// emulatorReady is the prefix of the line "broker emulator" prints once
// it is listening.
const emulatorReady = "emulator listening on "

// StartEmulator runs "broker emulator" on a port of its choosing with a
// fresh admin token passed through the environment, so it never shows in
// a process listing. args are further emulator flags.
func StartEmulator(t testing.TB, args ...string) *Proc {
	t.Helper()
	token := rand.Text() + rand.Text()
	ready := make(chan struct{})
	var url string
	watch := func(line []byte) bool {
		rest, ok := bytes.CutPrefix(line, []byte(emulatorReady))
		if ok {
			url = strings.TrimSpace(string(rest))
			close(ready)
		}
		return ok
	}
	full := append([]string{"emulator", "--addr", "127.0.0.1:0"}, args...)
	p := start(t, "emulator", []string{emulator.AdminTokenEnv + "=" + token}, watch, nil, full...)
	p.awaitLine(t, ready, "its listening line")
	p.URL, p.AdminToken = url, token
	return p
}

// Admin returns a client for the emulator's admin API using hc.
func (p *Proc) Admin(hc *http.Client) *emulator.AdminClient {
	return &emulator.AdminClient{BaseURL: p.URL, AdminToken: p.AdminToken, HTTPClient: hc}
}
