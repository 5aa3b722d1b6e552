package newcentral

import (
	"context"
	"net/http"

	"github.com/ztbroker/ztbroker/internal/upstream"
)

// KeysDescribed returns the keys of service account sa whose description
// is exactly desc: how a key minted just before a crash is found again.
func (a *API) KeysDescribed(ctx context.Context, op, sa, desc string) ([]Key, error) {
	var out []Key
	err := a.ServiceAccountKeys(ctx, op, sa, func(k Key) error {
		if k.Description == desc {
			out = append(out, k)
		}
		return nil
	})
	return out, err
}

// CheckSecret reports whether secret is accepted by Central, without
// touching the API's own credential: a new key is tried before anyone
// switches to it.
func (a *API) CheckSecret(ctx context.Context, secret string) error {
	const op = "check_key"
	resp, err := upstream.Send(ctx, a.hc, upstream.Request{
		Op: op, Method: http.MethodGet, URL: a.cfg.BaseURL + a.cfg.ListOrgsPath,
		Authorization: "Bearer " + secret, MaxBytes: a.cfg.MaxResponseBytes,
	})
	if err != nil {
		return err
	}
	if !resp.OK() {
		return a.statusError(resp, op)
	}
	return nil
}
