package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// AdminClient drives a running emulator's /_emulator/ API, for tests that
// run it as a separate process.
type AdminClient struct {
	// BaseURL is the emulator's root, e.g. http://127.0.0.1:8089.
	BaseURL    string
	AdminToken string
	HTTPClient *http.Client
}

// Tokens fetches the ground truth.
func (c *AdminClient) Tokens(ctx context.Context) (GroundTruth, error) {
	var g GroundTruth
	return g, c.do(ctx, http.MethodGet, "/_emulator/tokens", nil, &g)
}

// SeedKeys adds keys to a service account in one call (see
// Server.SeedKeys) and returns their ids.
func (c *AdminClient) SeedKeys(ctx context.Context, account string, keys []SeedKey) ([]string, error) {
	var out struct {
		IDs []string `json:"ids"`
	}
	err := c.do(ctx, http.MethodPost, "/_emulator/keys", SeedKeysRequest{ServiceAccount: account, Keys: keys}, &out)
	return out.IDs, err
}

// Networks fetches every network and member.
func (c *AdminClient) Networks(ctx context.Context) ([]NetworkTruth, error) {
	var out []NetworkTruth
	return out, c.do(ctx, http.MethodGet, "/_emulator/networks", nil, &out)
}

// Counters fetches request counts by route and status.
func (c *AdminClient) Counters(ctx context.Context) (map[string]map[int]int, error) {
	var raw map[string]map[string]int
	if err := c.do(ctx, http.MethodGet, "/_emulator/counters", nil, &raw); err != nil {
		return nil, err
	}
	out := make(map[string]map[int]int, len(raw))
	for route, m := range raw {
		out[route] = make(map[int]int, len(m))
		for st, n := range m {
			code, err := strconv.Atoi(st)
			if err != nil {
				return nil, fmt.Errorf("emulator admin: counters: bad status %q", st)
			}
			out[route][code] = n
		}
	}
	return out, nil
}

// Faults fetches the faults and rate limit in force.
func (c *AdminClient) Faults(ctx context.Context) (FaultSet, error) {
	var fs FaultSet
	return fs, c.do(ctx, http.MethodGet, "/_emulator/faults", nil, &fs)
}

// SetFaults replaces every fault and the global rate limit.
func (c *AdminClient) SetFaults(ctx context.Context, fs FaultSet) error {
	return c.do(ctx, http.MethodPut, "/_emulator/faults", fs, nil)
}

// SetFault injects f on one route, leaving the others alone.
func (c *AdminClient) SetFault(ctx context.Context, route string, f Fault) error {
	return c.do(ctx, http.MethodPut, "/_emulator/faults/"+url.PathEscape(route), f, nil)
}

// ClearFault removes the fault on one route.
func (c *AdminClient) ClearFault(ctx context.Context, route string) error {
	return c.do(ctx, http.MethodDelete, "/_emulator/faults/"+url.PathEscape(route), nil, nil)
}

// Reset forgets every token, fault, counter and clock advance.
func (c *AdminClient) Reset(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/_emulator/reset", nil, nil)
}

// AdvanceClock moves the emulator's clock forward and returns its new time.
func (c *AdminClient) AdvanceClock(ctx context.Context, d time.Duration) (time.Time, error) {
	var out struct {
		Now time.Time `json:"now"`
	}
	err := c.do(ctx, http.MethodPost, "/_emulator/clock", ClockAdvance{Advance: Duration(d)}, &out)
	return out.Now, err
}

func (c *AdminClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("emulator admin: encoding %s: %w", path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return fmt.Errorf("emulator admin: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.AdminToken)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("emulator admin: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("emulator admin: %s %s: reading: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var m struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(b, &m)
		return fmt.Errorf("emulator admin: %s %s: HTTP %d: %s", method, path, resp.StatusCode, m.Message)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("emulator admin: %s %s: decoding: %w", method, path, err)
	}
	return nil
}
