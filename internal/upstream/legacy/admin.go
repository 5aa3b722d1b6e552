package legacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/ztbroker/ztbroker/internal/upstream"
)

// AdminCheck says how to recognise the admin token among the user's.
type AdminCheck struct {
	// TokenName, when set, is the admin token's name.
	TokenName string
	// Owned reports whether a token name is the broker's own (a lease's).
	Owned func(name string) bool
	// Previous is the token the credential held before its secret
	// changed: never a candidate, and a TokenName naming it is out of
	// date.
	Previous string
}

// ErrAdminTokenUnknown means the admin token works but which of the user's
// tokens it is cannot be told: Legacy lists names only.
var ErrAdminTokenUnknown = errors.New("admin token name unknown")

// InspectAdmin checks that the admin token works (GET /status names a
// user), learns the user id, and finds the token's name: the configured
// one, which must be on the user, or else the user's only token that is not
// the broker's. With several candidates it returns the info it has and an
// error wrapping ErrAdminTokenUnknown, which the caller may accept.
func (c *Client) InspectAdmin(ctx context.Context, chk AdminCheck) (upstream.AdminInfo, error) {
	info := c.cred.Info()
	uid, err := c.DiscoverUserID(ctx)
	if err != nil {
		return info, describeAdminError(err)
	}
	if want := c.Account(); want != uid {
		return info, fmt.Errorf("the admin token belongs to user %q, not to the configured user_id %q", uid, want)
	}
	info.Account = uid
	names, err := c.names(ctx, uid, "check_admin")
	if err != nil {
		return info, describeAdminError(err)
	}
	if chk.TokenName != "" && chk.TokenName != chk.Previous {
		if !slices.Contains(names, chk.TokenName) {
			return info, fmt.Errorf("user %q has no token named %q (admin_token_name)", uid, chk.TokenName)
		}
		info.KeyID = chk.TokenName
		return info, nil
	}
	var candidates []string
	for _, n := range names {
		if (chk.Owned == nil || !chk.Owned(n)) && n != chk.Previous {
			candidates = append(candidates, n)
		}
	}
	if len(candidates) != 1 {
		return info, fmt.Errorf("%w: user %q has %d tokens that are not the broker's (%s); set admin_token_name",
			ErrAdminTokenUnknown, uid, len(candidates), strings.Join(candidates, ", "))
	}
	info.KeyID = candidates[0]
	return info, nil
}

func describeAdminError(err error) error {
	var ue *upstream.Error
	if errors.As(err, &ue) && ue.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("the admin token was refused: it is wrong or deleted: %w", err)
	}
	return fmt.Errorf("checking the admin token: %w", err)
}

// CheckSecret reports whether secret is a working token of the client's
// user, without touching the client's own credential.
func (c *Client) CheckSecret(ctx context.Context, secret string) error {
	const op = "check_key"
	resp, err := upstream.Send(ctx, c.hc, upstream.Request{
		Op: op, Method: http.MethodGet, URL: c.cfg.BaseURL + c.cfg.StatusPath,
		Authorization: c.cfg.AdminScheme + " " + secret, MaxBytes: c.cfg.MaxResponseBytes,
	})
	if err != nil {
		return err
	}
	if !resp.OK() {
		return resp.Error(op, c.cfg.Now())
	}
	var st struct {
		User *user `json:"user"`
	}
	if json.Unmarshal(resp.Body, &st) != nil || st.User == nil || st.User.ID != c.Account() {
		return upstream.StatusError(op, http.StatusUnauthorized, 0)
	}
	return nil
}
