package newcentral

import (
	"context"
	"io"
	"net/http"

	"github.com/ztbroker/ztbroker/internal/upstream"
)

// API is the New Central endpoints the broker calls, authenticated with
// one upstream's admin credential. Clients for several service accounts
// share one API, and so its rate limiter, credential and clock estimate.
type API struct {
	cfg  Config
	hc   *http.Client
	cred *upstream.AdminCredential
}

// NewAPI validates cfg (ServiceAccountID is not needed) and wraps its HTTP
// client with the shared upstream behaviour.
func NewAPI(cfg Config) (*API, error) {
	if err := cfg.complete(false); err != nil {
		return nil, err
	}
	hc, err := upstream.NewHTTPClient(cfg.HTTPClient, cfg.Upstream)
	if err != nil {
		return nil, err
	}
	return &API{cfg: cfg, hc: hc, cred: cfg.Credential}, nil
}

// Credential is the admin credential the API sends.
func (a *API) Credential() *upstream.AdminCredential { return a.cred }

// BaseURL is the API origin.
func (a *API) BaseURL() string { return a.cfg.BaseURL }

// Skew is the clock estimate, nil when expiries are sent on the broker's
// clock.
func (a *API) Skew() *upstream.ClockSkew { return a.cfg.Skew }

func (a *API) url(tmpl, id string) string { return a.cfg.BaseURL + expand(tmpl, id) }

// send performs r with the admin credential and reads the body. A 401
// asks the credential for a newer secret (a rotation on another replica
// may have retired this one) and, if there is one, repeats the call once.
func (a *API) send(ctx context.Context, r upstream.Request) (*upstream.Response, error) {
	return a.stream(ctx, r, nil)
}

// stream is send with the 2xx body handed to decode as it arrives; with a
// nil decode the body is read whole into the response.
func (a *API) stream(ctx context.Context, r upstream.Request, decode func(io.Reader) error) (*upstream.Response, error) {
	r.MaxBytes = a.cfg.MaxResponseBytes
	for attempt := 0; ; attempt++ {
		secret, version := a.cred.Secret()
		r.Authorization = "Bearer " + secret
		var (
			resp *upstream.Response
			err  error
		)
		if decode == nil {
			resp, err = upstream.Send(ctx, a.hc, r)
		} else {
			resp, err = upstream.SendStream(ctx, a.hc, r, decode)
		}
		if err != nil || resp.StatusCode != http.StatusUnauthorized || attempt > 0 || !a.cred.Refresh(ctx, version) {
			return resp, err
		}
	}
}

func (a *API) statusError(resp *upstream.Response, op string) *upstream.Error {
	return resp.Error(op, a.cfg.Now())
}
