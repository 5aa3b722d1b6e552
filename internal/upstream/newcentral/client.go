package newcentral

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

// Client mints API keys on one New Central service account.
type Client struct {
	cfg  Config
	hc   *http.Client
	auth string
}

var _ upstream.Issuer = (*Client)(nil)

// New validates cfg and wraps its HTTP client with the shared upstream
// behaviour.
func New(cfg Config) (*Client, error) {
	if err := cfg.complete(); err != nil {
		return nil, err
	}
	hc, err := upstream.NewHTTPClient(cfg.HTTPClient, cfg.Upstream)
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, hc: hc, auth: "Bearer " + cfg.AdminKey}, nil
}

func (c *Client) Kind() string       { return lease.UpstreamNewCentral }
func (c *Client) Account() string    { return c.cfg.ServiceAccountID }
func (c *Client) APIBaseURL() string { return c.cfg.BaseURL }
func (c *Client) AuthScheme() string { return "Bearer" }

type createKeyRequest struct {
	Expires     string `json:"expires"`
	Description string `json:"description,omitempty"`
}

type apiKey struct {
	ID          string   `json:"id"`
	Description string   `json:"description"`
	Expires     flexTime `json:"expires"`
	Key         string   `json:"key"`
}

// Mint creates a key whose description is name and which expires upstream
// at expires.
func (c *Client) Mint(ctx context.Context, name string, expires time.Time) (*upstream.Minted, error) {
	const op = "mint"
	if expires.IsZero() {
		return nil, upstream.NewError(op, "a New Central key needs an expiry")
	}
	resp, err := c.send(ctx, upstream.Request{
		Op: op, Method: http.MethodPost,
		URL: c.cfg.BaseURL + expand(c.cfg.CreateKeyPath, c.cfg.ServiceAccountID),
		Body: createKeyRequest{
			Expires:     expires.UTC().Format(time.RFC3339),
			Description: name,
		},
	})
	if err != nil {
		return nil, err
	}
	if !resp.OK() {
		return nil, resp.Error(op, c.cfg.Now())
	}
	var k apiKey
	// The decode error is dropped: its text can quote the body, which holds
	// the new key.
	if json.Unmarshal(resp.Body, &k) != nil || k.ID == "" || k.Key == "" {
		return nil, upstream.NewError(op, "malformed create response")
	}
	exp := k.Expires.Time()
	if exp.IsZero() {
		exp = expires
	}
	return &upstream.Minted{ID: k.ID, Secret: k.Key, Expires: exp}, nil
}

// Delete revokes key id. A 404 counts as already gone only when it is the
// API's own JSON error; a 403 (which some deployments may answer for a
// missing key) counts only when the service account's key list confirms the
// key is absent.
func (c *Client) Delete(ctx context.Context, id string) error {
	const op = "delete"
	if id == "" {
		return upstream.NewError(op, "empty key id")
	}
	resp, err := c.send(ctx, upstream.Request{
		Op: op, Method: http.MethodDelete, Priority: upstream.PriorityRevoke,
		URL: c.cfg.BaseURL + expand(c.cfg.DeleteKeyPath, id),
	})
	if err != nil {
		return err
	}
	switch {
	case resp.OK():
		return nil
	case resp.StatusCode == http.StatusNotFound && resp.IsAPIMessage():
		return nil
	case resp.StatusCode == http.StatusNotFound:
		e := resp.Error(op, c.cfg.Now())
		e.Msg = "404 did not come from the API; key state unknown"
		return e
	case resp.StatusCode == http.StatusForbidden:
		return c.confirmAbsent(ctx, id, resp.Error(op, c.cfg.Now()))
	default:
		return resp.Error(op, c.cfg.Now())
	}
}

func (c *Client) confirmAbsent(ctx context.Context, id string, orig *upstream.Error) error {
	keys, err := c.list(upstream.WithPriority(ctx, upstream.PriorityRevoke), "delete_verify")
	if err != nil {
		return orig
	}
	for _, k := range keys {
		if k.ID == id {
			return orig
		}
	}
	return nil
}

type serviceAccount struct {
	APIKeys []apiKey `json:"apiKeys"`
}

// List returns the service account's keys, with the description as Name.
func (c *Client) List(ctx context.Context) ([]upstream.Token, error) {
	return c.list(ctx, "list")
}

func (c *Client) list(ctx context.Context, op string) ([]upstream.Token, error) {
	resp, err := c.send(ctx, upstream.Request{
		Op: op, Method: http.MethodGet, Priority: upstream.PriorityFrom(ctx),
		URL: c.cfg.BaseURL + expand(c.cfg.GetServiceAccountPath, c.cfg.ServiceAccountID),
	})
	if err != nil {
		return nil, err
	}
	if !resp.OK() {
		return nil, resp.Error(op, c.cfg.Now())
	}
	var sa serviceAccount
	if json.Unmarshal(resp.Body, &sa) != nil {
		return nil, upstream.NewError(op, "malformed service account response")
	}
	out := make([]upstream.Token, 0, len(sa.APIKeys))
	for _, k := range sa.APIKeys {
		out = append(out, upstream.Token{ID: k.ID, Name: k.Description, Expires: k.Expires.Time()})
	}
	return out, nil
}

func (c *Client) send(ctx context.Context, r upstream.Request) (*upstream.Response, error) {
	r.Authorization = c.auth
	return upstream.Send(ctx, c.hc, r)
}
