package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// restCycle issues a token and revokes its lease over the REST gateway,
// with a plain net/http client and encoding/json, as a script would.
func restCycle() Scenario {
	return Scenario{
		Name: "rest",
		Ops:  []string{"issue", "revoke"},
		NewClient: func(_ context.Context, t *Target) (Client, error) {
			tr := &http.Transport{MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute}
			return &restClient{t: t, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
		},
	}
}

type restClient struct {
	t  *Target
	hc *http.Client
}

// restLease is the part of a lease the scenario checks.
type restLease struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

func (c *restClient) Cycle(ctx context.Context, rec *Recorder) error {
	var issued struct {
		Token string    `json:"token"`
		Lease restLease `json:"lease"`
	}
	err := rec.Time("issue", func() error {
		return c.post(ctx, "/v1/purposes/"+url.PathEscape(c.t.Purpose)+"/tokens", `{}`, &issued)
	})
	if err != nil {
		return fmt.Errorf("issue: %w", err)
	}
	if issued.Token == "" || issued.Lease.State != "STATE_ACTIVE" {
		return fmt.Errorf("issue: no token or lease not active (%q)", issued.Lease.State)
	}
	var revoked struct {
		Lease restLease `json:"lease"`
	}
	err = rec.Time("revoke", func() error {
		return c.post(ctx, "/v1/leases/"+url.PathEscape(issued.Lease.ID)+":revoke", `{}`, &revoked)
	})
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	if revoked.Lease.State != "STATE_REVOKED" {
		return fmt.Errorf("revoke: lease %s is %s", issued.Lease.ID, revoked.Lease.State)
	}
	return nil
}

func (c *restClient) post(ctx context.Context, path, body string, out any) error {
	return doJSON(ctx, c.hc, http.MethodPost, "http://"+c.t.HTTPAddr+path, c.t.APIKey, []byte(body), out)
}

// doJSON sends body (none when nil) with a bearer token and decodes a 2xx
// answer into out (unless nil); any other status is an error quoting the
// start of the answer.
func doJSON(ctx context.Context, hc *http.Client, method, url, bearer string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, req.URL.Path, resp.StatusCode, truncate(b, 200))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

func (c *restClient) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
