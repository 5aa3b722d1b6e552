package credential

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// refreshBefore is how long before its expiry a cached ID token is replaced,
// so that it cannot expire between being read here and checked by the
// broker.
const refreshBefore = 2 * time.Minute

// GitHubActions fetches the job's OIDC ID token from the Actions runtime.
// The job needs `permissions: id-token: write`, which is what makes the
// runner set the two ACTIONS_ID_TOKEN_REQUEST_* variables.
type GitHubActions struct {
	requestURL   string
	requestToken string
	audience     string
	client       *http.Client
	now          func() time.Time

	mu     sync.Mutex
	cached string
	expiry time.Time
}

// NewGitHubActions reads the runtime's request URL and token from the
// environment (cfg.Getenv). It fails with ErrUnauthenticated outside a job
// that has `permissions: id-token: write`.
func NewGitHubActions(cfg Config) (*GitHubActions, error) {
	getenv := cfg.getenv()
	reqURL := getenv("ACTIONS_ID_TOKEN_REQUEST_URL")
	reqTok := getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if reqURL == "" || reqTok == "" {
		return nil, unauthenticated("ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set; " +
			"run inside GitHub Actions with `permissions: id-token: write`")
	}
	if _, err := url.Parse(reqURL); err != nil {
		return nil, unauthenticated("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL")
	}
	return &GitHubActions{
		requestURL:   reqURL,
		requestToken: reqTok,
		audience:     cfg.Audience,
		client:       cfg.httpClient(),
		now:          time.Now,
	}, nil
}

// Token returns a cached ID token while it has time left, else a new one.
func (g *GitHubActions) Token(ctx context.Context) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cached != "" && g.now().Before(g.expiry.Add(-refreshBefore)) {
		return g.cached, nil
	}
	tok, err := g.fetch(ctx)
	if err != nil {
		return "", err
	}
	g.cached, g.expiry = tok, jwtExpiry(tok)
	return tok, nil
}

func (g *GitHubActions) fetch(ctx context.Context) (string, error) {
	u, _ := url.Parse(g.requestURL)
	q := u.Query()
	if g.audience != "" {
		q.Set("audience", g.audience)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", unauthenticated("build GitHub Actions ID token request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+g.requestToken)
	req.Header.Set("Accept", "application/json")
	resp, err := g.client.Do(req)
	if err != nil {
		// *url.Error repeats the URL; only the cause is worth showing.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return "", unavailable("fetch GitHub Actions ID token: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenBytes+1))
	if err != nil {
		return "", unavailable("fetch GitHub Actions ID token: read response: %v", err)
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return "", unavailable("fetch GitHub Actions ID token: HTTP %d", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		return "", unauthenticated("fetch GitHub Actions ID token: HTTP %d", resp.StatusCode)
	}
	var out struct {
		Value string `json:"value"`
	}
	if len(body) > maxTokenBytes || json.Unmarshal(body, &out) != nil || out.Value == "" {
		return "", unauthenticated("fetch GitHub Actions ID token: response has no token")
	}
	return out.Value, nil
}

// String keeps the request token out of any accidental %v.
func (g *GitHubActions) String() string {
	return fmt.Sprintf("github-actions(audience=%q)", g.audience)
}
