package testproc

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// pollInterval is how often readiness is asked for.
const pollInterval = 50 * time.Millisecond

// StartBroker runs "broker serve --config configPath" with env added to
// the test's environment (for the *_env secrets the config names). The
// config's listeners may use port 0: the addresses are read from the
// server's "serving" log line. It returns once /readyz answers 200.
func StartBroker(t testing.TB, configPath string, env ...string) *Proc {
	t.Helper()
	ready := make(chan struct{})
	var grpcAddr, httpAddr string
	watch := func(line []byte) bool {
		g, h, ok := servingLine(line)
		if ok {
			grpcAddr, httpAddr = g, h
			close(ready)
		}
		return ok
	}
	p := start(t, "broker", env, nil, watch, "serve", "--config", configPath)
	p.awaitLine(t, ready, "its serving line")
	p.GRPCAddr, p.HTTPAddr = grpcAddr, httpAddr
	p.awaitReady(t)
	return p
}

// servingLine recognises the server's "serving" log line in either log
// format and returns the addresses it names.
func servingLine(line []byte) (grpcAddr, httpAddr string, ok bool) {
	var j struct {
		Msg  string `json:"msg"`
		GRPC string `json:"grpc"`
		HTTP string `json:"http"`
	}
	if json.Unmarshal(line, &j) == nil {
		return j.GRPC, j.HTTP, j.Msg == "serving" && j.GRPC != "" && j.HTTP != ""
	}
	if !bytes.Contains(line, []byte("msg=serving")) {
		return "", "", false
	}
	for f := range strings.FieldsSeq(string(line)) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "grpc":
			grpcAddr = v
		case "http":
			httpAddr = v
		}
	}
	return grpcAddr, httpAddr, grpcAddr != "" && httpAddr != ""
}

// awaitReady polls /readyz until it answers 200, the process exits, or
// startTimeout passes.
func (p *Proc) awaitReady(t testing.TB) {
	t.Helper()
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	url := "http://" + p.HTTPAddr + "/readyz"
	for {
		if readyOnce(ctx, hc, url) {
			return
		}
		select {
		case <-tick.C:
		case <-p.done:
			t.Fatalf("testproc: broker exited with code %d before ready; stderr:\n%s", p.code, p.Stderr())
		case <-ctx.Done():
			p.Kill()
			t.Fatalf("testproc: broker not ready within %s; stderr:\n%s", startTimeout, p.Stderr())
		}
	}
}

func readyOnce(ctx context.Context, hc *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
