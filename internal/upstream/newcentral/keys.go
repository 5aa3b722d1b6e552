package newcentral

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ztbroker/ztbroker/internal/upstream"
)

// Key is an API key as Central describes it, its times on the broker's
// clock.
type Key struct {
	ID               string
	ServiceAccountID string
	Description      string
	Created          time.Time
	Expires          time.Time
	LastUsed         time.Time
}

// NewKey is a key just created, with its secret: shown once, kept nowhere.
type NewKey struct {
	Key
	Secret string
}

type createKeyRequest struct {
	Expires     string `json:"expires"`
	Description string `json:"description,omitempty"`
}

// apiKey is ApiKeyResponse and NewApiKeyResponse in one.
type apiKey struct {
	ID               string   `json:"id"`
	ServiceAccountID string   `json:"serviceAccountId"`
	Description      string   `json:"description"`
	CreationTime     flexTime `json:"creationTime"`
	Expires          flexTime `json:"expires"`
	LastUsed         flexTime `json:"lastUsed"`
	Key              string   `json:"key"`
}

func (a *API) key(k apiKey) Key {
	skew := a.cfg.Skew
	return Key{
		ID: k.ID, ServiceAccountID: k.ServiceAccountID, Description: k.Description,
		Created:  skew.FromUpstream(k.CreationTime.Time()),
		Expires:  skew.FromUpstream(k.Expires.Time()),
		LastUsed: skew.FromUpstream(k.LastUsed.Time()),
	}
}

// CreateKey creates a key on service account sa, described description,
// expiring at expires on the broker's clock (sent on Central's, when the
// two differ by more than a second). A 2xx answer without the key's id or
// secret is ambiguous: the key may exist, and the caller must look it up by
// description and delete it.
func (a *API) CreateKey(ctx context.Context, op, sa, description string, expires time.Time) (*NewKey, error) {
	if expires.IsZero() {
		return nil, upstream.NewError(op, "a New Central key needs an expiry")
	}
	resp, err := a.send(ctx, upstream.Request{
		Op: op, Method: http.MethodPost, URL: a.url(a.cfg.CreateKeyPath, sa),
		Body: createKeyRequest{
			Expires:     a.cfg.Skew.ToUpstream(expires).UTC().Format(time.RFC3339),
			Description: description,
		},
	})
	if err != nil {
		return nil, err
	}
	if !resp.OK() {
		return nil, a.statusError(resp, op)
	}
	var k apiKey
	// The decode error is dropped: its text can quote the body, which holds
	// the new key.
	if json.Unmarshal(resp.Body, &k) != nil || k.ID == "" || k.Key == "" {
		return nil, upstream.NewAmbiguousError(op, "create answered success without a key id and secret")
	}
	out := &NewKey{Key: a.key(k), Secret: k.Key}
	if out.Expires.IsZero() {
		out.Expires = expires
	}
	return out, nil
}

// Key reads one key's record.
func (a *API) Key(ctx context.Context, op, id string) (*Key, error) {
	resp, err := a.send(ctx, upstream.Request{Op: op, Method: http.MethodGet, URL: a.url(a.cfg.GetKeyPath, id)})
	if err != nil {
		return nil, err
	}
	if !resp.OK() {
		return nil, a.statusError(resp, op)
	}
	var k apiKey
	if json.Unmarshal(resp.Body, &k) != nil || k.ID == "" {
		return nil, upstream.NewError(op, "malformed API key response")
	}
	if k.ID != id {
		return nil, upstream.NewError(op, "API key response names another key")
	}
	out := a.key(k)
	return &out, nil
}

// DeleteKey revokes key id of service account sa. It succeeds only on
// Central's documented answer — a 2xx with a {"message": …} body — or when
// a fresh read of the service account's key list confirms the key is
// absent. A 404 alone is never enough (a moved route or a proxy answers
// 404 too, and the v2 API declares none for this call), nor is a 2xx with
// some other body.
func (a *API) DeleteKey(ctx context.Context, op, sa, id string) error {
	if id == "" {
		return upstream.NewError(op, "empty key id")
	}
	ctx = upstream.WithPriority(ctx, upstream.PriorityRevoke)
	resp, err := a.send(ctx, upstream.Request{
		Op: op, Method: http.MethodDelete, Priority: upstream.PriorityRevoke, URL: a.url(a.cfg.DeleteKeyPath, id),
	})
	if err != nil {
		return err
	}
	var orig *upstream.Error
	switch {
	case resp.OK() && resp.IsAPIMessage():
		return nil
	case resp.OK():
		orig = upstream.NewAmbiguousError(op, "delete answered success with an undocumented body")
		orig.StatusCode = resp.StatusCode
	case resp.StatusCode == http.StatusNotFound, resp.StatusCode == http.StatusForbidden:
		// Central may answer either for a key that is already gone; so may
		// a misrouted request for a key that is not.
		orig = a.statusError(resp, op)
	default:
		return a.statusError(resp, op)
	}
	return a.confirmAbsent(ctx, sa, id, orig)
}

// confirmAbsent settles an inconclusive delete by reading the service
// account's key list: the key is gone only if the list is read and it is
// not in it.
func (a *API) confirmAbsent(ctx context.Context, sa, id string, orig *upstream.Error) error {
	found := false
	err := a.ServiceAccountKeys(ctx, "delete_verify", sa, func(k Key) error {
		if k.ID == id {
			found = true
			return errStop
		}
		return nil
	})
	switch {
	case err != nil:
		orig.Msg += "; the key list could not confirm it is gone"
		return orig
	case found:
		orig.Msg += "; the key is still listed"
		return orig
	}
	return nil
}

// errStop ends a listing early without error.
var errStop = errors.New("stop listing")

// ServiceAccountKeys reads service account sa and calls visit for each of
// its keys as the response streams in; visit may return errStop to end
// early. The whole list is never held in memory here.
func (a *API) ServiceAccountKeys(ctx context.Context, op, sa string, visit func(Key) error) error {
	var visitErr error
	resp, err := a.stream(ctx, upstream.Request{
		Op: op, Method: http.MethodGet, Priority: upstream.PriorityFrom(ctx), URL: a.url(a.cfg.GetServiceAccountPath, sa),
	}, func(r io.Reader) error {
		return decodeObject(r, map[string]func(*json.Decoder) error{
			"apiKeys": func(dec *json.Decoder) error {
				return decodeArray(dec, func(dec *json.Decoder) error {
					var k apiKey
					if err := dec.Decode(&k); err != nil {
						return err
					}
					visitErr = visit(a.key(k))
					return visitErr
				})
			},
		})
	})
	var ue *upstream.Error
	switch {
	case visitErr != nil && errors.Is(err, visitErr):
		if errors.Is(visitErr, errStop) {
			return nil
		}
		return visitErr
	case errors.As(err, &ue):
		return err
	case err != nil:
		// A decode error's text may quote the body; keep only the fact.
		return upstream.NewError(op, "malformed service account response")
	case !resp.OK():
		return a.statusError(resp, op)
	}
	return nil
}

// decodeObject walks one JSON object, handing the listed fields to their
// decoders and skipping the rest. null counts as an empty object.
func decodeObject(r io.Reader, fields map[string]func(*json.Decoder) error) error {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("want an object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		if f, ok := fields[name]; ok {
			if err := f(dec); err != nil {
				return err
			}
			continue
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	return nil
}

// decodeArray calls elem for each element of the array at the decoder's
// position; null counts as empty.
func decodeArray(dec *json.Decoder, elem func(*json.Decoder) error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("want an array")
	}
	for dec.More() {
		if err := elem(dec); err != nil {
			return err
		}
	}
	_, err = dec.Token()
	return err
}
