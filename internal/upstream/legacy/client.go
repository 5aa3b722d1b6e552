package legacy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

// Client mints user API tokens on one Legacy Central user.
type Client struct {
	cfg  Config
	hc   *http.Client
	cred *upstream.AdminCredential

	mu     sync.Mutex
	userID string
}

var _ upstream.Issuer = (*Client)(nil)

// New validates cfg and wraps its HTTP client with the shared upstream
// behaviour. It makes no calls; with no UserID, call DiscoverUserID before
// relying on Account.
func New(cfg Config) (*Client, error) {
	if err := cfg.complete(); err != nil {
		return nil, err
	}
	hc, err := upstream.NewHTTPClient(cfg.HTTPClient, cfg.Upstream)
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, hc: hc, cred: cfg.Credential, userID: cfg.UserID}, nil
}

func (c *Client) Upstream() string   { return c.cfg.Name }
func (c *Client) Kind() string       { return lease.UpstreamLegacy }
func (c *Client) APIBaseURL() string { return c.cfg.BaseURL }
func (c *Client) AuthScheme() string { return SchemeToken }

// Credential is the admin credential the client sends.
func (c *Client) Credential() *upstream.AdminCredential { return c.cred }

// Account is the user id: configured, or found by DiscoverUserID (empty
// until then).
func (c *Client) Account() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.userID
}

type user struct {
	ID     string   `json:"id"`
	Tokens []string `json:"tokens"`
}

// DiscoverUserID asks GET /status whose admin token this is and remembers
// the answer. Central answers 200 with a null user for a token it does not
// accept, so that case is reported like a 401.
func (c *Client) DiscoverUserID(ctx context.Context) (string, error) {
	const op = "discover_user"
	resp, err := c.send(ctx, upstream.Request{Op: op, Method: http.MethodGet, URL: c.cfg.BaseURL + c.cfg.StatusPath})
	if err != nil {
		return "", err
	}
	if !resp.OK() {
		return "", resp.Error(op, c.cfg.Now())
	}
	var st struct {
		User *user `json:"user"`
	}
	if json.Unmarshal(resp.Body, &st) != nil {
		return "", upstream.NewError(op, "malformed status response")
	}
	if st.User == nil || st.User.ID == "" {
		return "", upstream.StatusError(op, http.StatusUnauthorized, 0)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.userID == "" {
		c.userID = st.User.ID
	}
	return st.User.ID, nil
}

func (c *Client) user(ctx context.Context) (string, error) {
	if id := c.Account(); id != "" {
		return id, nil
	}
	return c.DiscoverUserID(ctx)
}

type createTokenRequest struct {
	TokenName string `json:"tokenName"`
	Token     string `json:"token"`
}

// Mint generates a token and registers it under name. Legacy tokens do not
// expire, so expires is ignored. The response body is not trusted for
// anything: the spec does not say what it holds, and the client chose the
// secret itself.
func (c *Client) Mint(ctx context.Context, name string, _ time.Time) (*upstream.Minted, error) {
	const op = "mint"
	uid, err := c.user(ctx)
	if err != nil {
		return nil, err
	}
	secret, err := newToken(c.cfg.Rand)
	if err != nil {
		return nil, upstream.NewError(op, "generating token")
	}
	resp, err := c.send(ctx, upstream.Request{
		Op: op, Method: http.MethodPost,
		URL:  c.cfg.BaseURL + expand(c.cfg.CreateTokenPath, uid, ""),
		Body: createTokenRequest{TokenName: name, Token: secret},
	})
	if err != nil {
		return nil, err
	}
	if !resp.OK() {
		return nil, resp.Error(op, c.cfg.Now())
	}
	return &upstream.Minted{ID: name, Secret: secret}, nil
}

// Delete removes token name. Because Legacy 404 bodies are undocumented, a
// 404 counts as already gone only when the user's token list, fetched with
// the same credential, confirms the name is absent. The admin token itself
// is refused.
func (c *Client) Delete(ctx context.Context, name string) error {
	const op = "delete"
	if name == "" {
		return upstream.NewError(op, "empty token name")
	}
	if c.cred.IsProtected(name) {
		return upstream.ErrProtected
	}
	ctx = upstream.WithPriority(ctx, upstream.PriorityRevoke)
	uid, err := c.user(ctx)
	if err != nil {
		return err
	}
	resp, err := c.send(ctx, upstream.Request{
		Op: op, Method: http.MethodDelete, Priority: upstream.PriorityRevoke,
		URL: c.cfg.BaseURL + expand(c.cfg.DeleteTokenPath, uid, name),
	})
	if err != nil {
		return err
	}
	if resp.OK() {
		return nil
	}
	orig := resp.Error(op, c.cfg.Now())
	if resp.StatusCode != http.StatusNotFound {
		return orig
	}
	names, err := c.names(ctx, uid, "delete_verify")
	if err != nil || slices.Contains(names, name) {
		orig.Msg = "404 not confirmed by the user's token list; token state unknown"
		return orig
	}
	return nil
}

// List returns the user's token names; Legacy has no other token metadata.
func (c *Client) List(ctx context.Context) ([]upstream.Token, error) {
	uid, err := c.user(ctx)
	if err != nil {
		return nil, err
	}
	names, err := c.names(ctx, uid, "list")
	if err != nil {
		return nil, err
	}
	out := make([]upstream.Token, 0, len(names))
	for _, n := range names {
		out = append(out, upstream.Token{ID: n, Name: n, Protected: c.cred.IsProtected(n)})
	}
	return out, nil
}

// names reads the user's token names, streaming the response so that a
// user with very many tokens is read within the response cap alone.
func (c *Client) names(ctx context.Context, uid, op string) ([]string, error) {
	var names []string
	resp, err := c.stream(ctx, upstream.Request{
		Op: op, Method: http.MethodGet, Priority: upstream.PriorityFrom(ctx),
		URL: c.cfg.BaseURL + expand(c.cfg.UserPath, uid, ""),
	}, func(r io.Reader) error {
		var u user
		if err := json.NewDecoder(r).Decode(&u); err != nil {
			return err
		}
		names = u.Tokens
		return nil
	})
	var ue *upstream.Error
	switch {
	case errors.As(err, &ue):
		return nil, err
	case err != nil:
		return nil, upstream.NewError(op, "malformed user response")
	case !resp.OK():
		return nil, resp.Error(op, c.cfg.Now())
	}
	return names, nil
}

func (c *Client) send(ctx context.Context, r upstream.Request) (*upstream.Response, error) {
	return c.stream(ctx, r, nil)
}

// stream performs r with the admin credential. A refusal asks the
// credential for a newer secret (its file may have been replaced) and, if
// there is one, repeats the call once. Central refuses a Legacy token with
// 401, or on /status with a null user, which the callers handle.
func (c *Client) stream(ctx context.Context, r upstream.Request, decode func(io.Reader) error) (*upstream.Response, error) {
	r.MaxBytes = c.cfg.MaxResponseBytes
	for attempt := 0; ; attempt++ {
		secret, version := c.cred.Secret()
		r.Authorization = c.cfg.AdminScheme + " " + secret
		var (
			resp *upstream.Response
			err  error
		)
		if decode == nil {
			resp, err = upstream.Send(ctx, c.hc, r)
		} else {
			resp, err = upstream.SendStream(ctx, c.hc, r, decode)
		}
		if err != nil || resp.StatusCode != http.StatusUnauthorized || attempt > 0 || !c.cred.Refresh(ctx, version) {
			return resp, err
		}
	}
}
