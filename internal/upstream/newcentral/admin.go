package newcentral

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ztbroker/ztbroker/internal/upstream"
)

// AdminCheck says where to look for the admin credential's own key.
type AdminCheck struct {
	// KeyID, when set, names the admin key; it is read directly.
	KeyID string
	// Accounts are the service accounts searched for the key when KeyID
	// is empty: the one configured for the admin key, else the purposes'.
	Accounts []string
	// Owned reports whether a key's description marks it as the broker's
	// own (a lease's key, a rotated admin key): never a candidate.
	Owned func(description string) bool
	// Previous is the key the credential held before its secret changed
	// (a key file replaced): never a candidate, and a KeyID naming it is
	// out of date, so the key is found by elimination instead.
	Previous string
}

// lastUsedSlack allows for Central stamping lastUsed a little before the
// broker's reading of its own clock says the probe began.
const lastUsedSlack = 2 * time.Second

// InspectAdmin checks that the admin credential works and learns which key
// it is, on which service account, and when it expires. Without a
// configured id the key is found by elimination: among the searched
// accounts' keys that are not the broker's own, the only one, or else the
// only one whose lastUsed shows the request just made with it.
//
// Its errors say what is wrong in words an operator can act on; the caller
// adds the upstream's name.
func (a *API) InspectAdmin(ctx context.Context, chk AdminCheck) (upstream.AdminInfo, error) {
	info := a.cred.Info()
	// lastUsed comes back on the broker's clock (see key), as this does.
	probe := a.cfg.Now()
	if _, err := a.Orgs(ctx, "check_admin"); err != nil {
		return info, describeAdminError(err, "")
	}
	if chk.KeyID != "" && chk.KeyID != chk.Previous {
		k, err := a.Key(ctx, "check_admin", chk.KeyID)
		if err != nil {
			return info, describeAdminError(err, fmt.Sprintf("reading admin key %q", chk.KeyID))
		}
		info.KeyID, info.Account, info.Expires = k.ID, k.ServiceAccountID, k.Expires
		return info, nil
	}
	if len(chk.Accounts) == 0 {
		return info, errors.New("no service account to look for the admin key on: set admin_key_id or admin_service_account_id")
	}
	var candidates []Key
	for _, sa := range chk.Accounts {
		err := a.ServiceAccountKeys(ctx, "check_admin", sa, func(k Key) error {
			if (chk.Owned == nil || !chk.Owned(k.Description)) && k.ID != chk.Previous {
				if k.ServiceAccountID == "" {
					k.ServiceAccountID = sa
				}
				candidates = append(candidates, k)
			}
			return nil
		})
		if err != nil {
			return info, describeAdminError(err, fmt.Sprintf("reading service account %q", sa))
		}
	}
	pick := candidates
	if len(pick) > 1 {
		pick = slices.DeleteFunc(slices.Clone(candidates), func(k Key) bool {
			return k.LastUsed.IsZero() || k.LastUsed.Before(probe.Add(-lastUsedSlack))
		})
	}
	if len(pick) != 1 {
		ids := make([]string, 0, len(candidates))
		for _, k := range candidates {
			ids = append(ids, k.ID)
		}
		if len(candidates) == 0 {
			return info, fmt.Errorf("the admin key is not among the keys of service account(s) %s: set admin_service_account_id to the account holding it, or admin_key_id",
				strings.Join(chk.Accounts, ", "))
		}
		return info, fmt.Errorf("cannot tell which of the keys %s on service account(s) %s is the admin key: set admin_key_id",
			strings.Join(ids, ", "), strings.Join(chk.Accounts, ", "))
	}
	info.KeyID, info.Account, info.Expires = pick[0].ID, pick[0].ServiceAccountID, pick[0].Expires
	return info, nil
}

// describeAdminError turns a failed start-up call into the operator's
// problem: a refused key, an unknown account, an unreachable API.
func describeAdminError(err error, doing string) error {
	var ue *upstream.Error
	msg := "the API could not be reached"
	if errors.As(err, &ue) {
		switch ue.StatusCode {
		case http.StatusUnauthorized:
			msg = "the admin key was refused (HTTP 401): it is wrong, deleted or expired"
		case http.StatusForbidden:
			msg = "the admin key may not do this (HTTP 403): wrong organisation, or the id is unknown"
		case http.StatusNotFound:
			msg = "not found (HTTP 404): the id is unknown, or a path is misconfigured"
		case 0:
			msg = ue.Msg
		default:
			msg = fmt.Sprintf("%s (HTTP %d)", ue.Msg, ue.StatusCode)
		}
	}
	if doing != "" {
		msg = doing + ": " + msg
	}
	return fmt.Errorf("%s: %w", msg, err)
}
