package client

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Transport is an http.RoundTripper that sends requests to the ZeroTier API
// with a token from a TokenSource. Use it through HTTPClient, or wrap it
// around your own transport.
//
// A request whose URL has no host is sent to the token's API base URL, the
// request's path appended to the base's: with a New Central lease
// "/api/v2/network" reaches https://api.zerotier.com/api/v2/network, and
// with a Legacy lease, whose base already ends in /api/v1, "/network"
// reaches .../api/v1/network. When the broker proxies the API, the base is
// the broker and nothing changes for the caller. A request with a host is
// sent only when it names the base URL's scheme and host; any other is
// refused, so the token never goes anywhere but where the broker said it
// works (redirects included).
//
// The Authorization header is set with the token's scheme on a copy of the
// request; the caller's request is never changed. When the API answers 401
// — the token was revoked upstream, or its lease ended early — the source
// replaces the lease and the request is sent once more with the new token,
// provided its body can be sent again: it has none, or GetBody is set (as
// http.NewRequest does for bytes, strings and bytes.Buffer bodies). A
// request whose body cannot be replayed gets the 401 response back as it
// came, and the next request uses the new token.
type Transport struct {
	// Source supplies the tokens. Required.
	Source *TokenSource
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
}

// HTTPClient returns an *http.Client whose requests carry a token for
// purpose, from a TokenSource made with opts (see Transport). The client's
// Close revokes the source's lease.
func (c *Client) HTTPClient(purpose string, opts ...SourceOption) *http.Client {
	return &http.Client{Transport: &Transport{Source: c.TokenSource(purpose, opts...)}}
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.Source.Token(req.Context())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.send(req, tok)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	if !t.Source.reject(tok) || !replayable {
		return resp, nil
	}
	fresh, err := t.Source.Token(req.Context())
	if err != nil || fresh == tok {
		// Without a new token, the 401 is the answer.
		return resp, nil
	}
	retry := req.Clone(req.Context())
	if req.GetBody != nil {
		if retry.Body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	drain(resp)
	return t.send(retry, fresh)
}

func (t *Transport) send(req *http.Request, tok *Token) (*http.Response, error) {
	target, err := resolve(tok.APIBaseURL, req.URL)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	out := req.Clone(req.Context())
	out.URL = target
	out.Host = ""
	out.Header.Set("Authorization", tok.Authorization())
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(out)
}

// resolve is where u goes with a token whose API lives at base.
func resolve(base string, u *url.URL) (*url.URL, error) {
	b, err := url.Parse(base)
	if err != nil || b.Scheme == "" || b.Host == "" {
		return nil, errors.New("ztbroker transport: the lease's API base URL is not an absolute URL")
	}
	if u.Host != "" {
		if !strings.EqualFold(u.Scheme, b.Scheme) || !strings.EqualFold(u.Host, b.Host) {
			return nil, fmt.Errorf("ztbroker transport: refusing to send the token to %s://%s, which is not the lease's API (%s://%s)",
				u.Scheme, u.Host, b.Scheme, b.Host)
		}
		return u, nil
	}
	out := *b
	out.Path = strings.TrimSuffix(b.Path, "/") + "/" + strings.TrimPrefix(u.Path, "/")
	out.RawPath = ""
	if u.RawPath != "" {
		out.RawPath = strings.TrimSuffix(b.EscapedPath(), "/") + "/" + strings.TrimPrefix(u.RawPath, "/")
	}
	out.RawQuery = u.RawQuery
	out.Fragment = ""
	return &out, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// drain lets the connection be reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}
