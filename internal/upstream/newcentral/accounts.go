package newcentral

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/ztbroker/ztbroker/internal/upstream"
)

// ServiceAccount is a service account as the organisation's list shows it.
type ServiceAccount struct {
	ID      string
	Name    string
	Created time.Time
	// Keys counts its API keys.
	Keys int
}

// Orgs lists the ids of the organisations the admin credential reaches. A
// service account's key reaches exactly its own.
func (a *API) Orgs(ctx context.Context, op string) ([]string, error) {
	var ids []string
	resp, err := a.stream(ctx, upstream.Request{Op: op, Method: http.MethodGet, URL: a.cfg.BaseURL + a.cfg.ListOrgsPath},
		func(r io.Reader) error {
			return decodeObject(r, map[string]func(*json.Decoder) error{
				"items": func(dec *json.Decoder) error {
					return decodeArray(dec, func(dec *json.Decoder) error {
						var o struct {
							ID string `json:"id"`
						}
						if err := dec.Decode(&o); err != nil {
							return err
						}
						ids = append(ids, o.ID)
						return nil
					})
				},
			})
		})
	if err := listResult(op, resp, err, a); err != nil {
		return nil, err
	}
	return ids, nil
}

// ServiceAccounts lists the service accounts of organisation org, streamed
// as for keys: an organisation may hold many, each with its keys.
func (a *API) ServiceAccounts(ctx context.Context, op, org string) ([]ServiceAccount, error) {
	var out []ServiceAccount
	resp, err := a.stream(ctx, upstream.Request{Op: op, Method: http.MethodGet, URL: a.url(a.cfg.ListServiceAccountsPath, org)},
		func(r io.Reader) error {
			return decodeObject(r, map[string]func(*json.Decoder) error{
				"items": func(dec *json.Decoder) error {
					return decodeArray(dec, func(dec *json.Decoder) error {
						var sa struct {
							ID           string            `json:"id"`
							Name         string            `json:"name"`
							CreationTime flexTime          `json:"creationTime"`
							APIKeys      []json.RawMessage `json:"apiKeys"`
						}
						if err := dec.Decode(&sa); err != nil {
							return err
						}
						out = append(out, ServiceAccount{
							ID: sa.ID, Name: sa.Name, Keys: len(sa.APIKeys),
							Created: a.cfg.Skew.FromUpstream(sa.CreationTime.Time()),
						})
						return nil
					})
				},
			})
		})
	if err := listResult(op, resp, err, a); err != nil {
		return nil, err
	}
	return out, nil
}

func listResult(op string, resp *upstream.Response, err error, a *API) error {
	var ue *upstream.Error
	switch {
	case errors.As(err, &ue):
		return err
	case err != nil:
		return upstream.NewError(op, "malformed list response")
	case !resp.OK():
		return a.statusError(resp, op)
	}
	return nil
}
