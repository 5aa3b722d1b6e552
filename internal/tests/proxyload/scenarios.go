package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
)

// target says where a scenario's calls go and with which credential.
type target struct {
	base string // root under which Central's paths hang
	auth string // full Authorization value
}

// scenario is one kind of call, sent to one target.
type scenario struct {
	name   string
	via    string // "direct", "proxy", or "before" (the baseline broker)
	method string
	// path and body make the n-th call; bodies vary so that updates
	// really change something.
	path func(n int64) string
	body func(n int64) string
}

// scenarios are a proxied GET of one network and a proxied member update,
// each beside the same call straight to the emulator.
func scenarios(network, member string, vias []string) []scenario {
	get := func(int64) string { return "/api/v2/network/" + network }
	upd := func(int64) string { return "/api/v2/network/" + network + "/member/" + member }
	name := func(n int64) string { return fmt.Sprintf(`{"name":"bench-%d"}`, n) }
	var out []scenario
	for _, via := range vias {
		out = append(out,
			scenario{name: "GET network", via: via, method: http.MethodGet, path: get},
			scenario{name: "member update", via: via, method: http.MethodPost, path: upd, body: name},
		)
	}
	return out
}

// request builds the n-th call of s against t.
func (s scenario) request(t target, n int64) (*http.Request, error) {
	var body *strings.Reader
	if s.body != nil {
		body = strings.NewReader(s.body(n))
	}
	var req *http.Request
	var err error
	if body != nil {
		req, err = http.NewRequest(s.method, t.base+s.path(n), body)
	} else {
		req, err = http.NewRequest(s.method, t.base+s.path(n), nil)
	}
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", t.auth)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// seq numbers calls across all clients.
var seq atomic.Int64
