package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// apiError is a failed call over either transport. HTTP is zero for gRPC.
type apiError struct {
	Code       codes.Code
	HTTP       int
	Msg        string
	RetryAfter string
	// Reason and Metadata are the google.rpc.ErrorInfo detail, if any.
	Reason   string
	Metadata map[string]string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (http %d): %s", e.Code, e.HTTP, e.Msg) }

// api is the TokenBroker as a caller sees it, over one transport.
type api interface {
	name() string
	issue(ctx context.Context, key string, req *ztbrokerv1.IssueTokenRequest) (*ztbrokerv1.IssueTokenResponse, error)
	get(ctx context.Context, key, id string) (*ztbrokerv1.GetLeaseResponse, error)
	list(ctx context.Context, key string, req *ztbrokerv1.ListLeasesRequest) (*ztbrokerv1.ListLeasesResponse, error)
	renew(ctx context.Context, key string, req *ztbrokerv1.RenewLeaseRequest) (*ztbrokerv1.RenewLeaseResponse, error)
	revoke(ctx context.Context, key string, req *ztbrokerv1.RevokeLeaseRequest) (*ztbrokerv1.RevokeLeaseResponse, error)
}

func (h *harness) apis() []api { return []api{grpcAPI{h}, restAPI{h}} }

type grpcAPI struct{ h *harness }

func (grpcAPI) name() string { return "grpc" }

func grpcErr(err error) error {
	if err == nil {
		return nil
	}
	st := status.Convert(err)
	ae := &apiError{Code: st.Code(), Msg: st.Message()}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			ae.Reason, ae.Metadata = info.GetReason(), info.GetMetadata()
		}
	}
	return ae
}

func (g grpcAPI) issue(ctx context.Context, key string, req *ztbrokerv1.IssueTokenRequest) (*ztbrokerv1.IssueTokenResponse, error) {
	r, err := g.h.tb.IssueToken(as(ctx, key), req)
	return r, grpcErr(err)
}

func (g grpcAPI) get(ctx context.Context, key, id string) (*ztbrokerv1.GetLeaseResponse, error) {
	r, err := g.h.tb.GetLease(as(ctx, key), &ztbrokerv1.GetLeaseRequest{Id: id})
	return r, grpcErr(err)
}

func (g grpcAPI) list(ctx context.Context, key string, req *ztbrokerv1.ListLeasesRequest) (*ztbrokerv1.ListLeasesResponse, error) {
	r, err := g.h.tb.ListLeases(as(ctx, key), req)
	return r, grpcErr(err)
}

func (g grpcAPI) renew(ctx context.Context, key string, req *ztbrokerv1.RenewLeaseRequest) (*ztbrokerv1.RenewLeaseResponse, error) {
	r, err := g.h.tb.RenewLease(as(ctx, key), req)
	return r, grpcErr(err)
}

func (g grpcAPI) revoke(ctx context.Context, key string, req *ztbrokerv1.RevokeLeaseRequest) (*ztbrokerv1.RevokeLeaseResponse, error) {
	r, err := g.h.tb.RevokeLease(as(ctx, key), req)
	return r, grpcErr(err)
}

type restAPI struct{ h *harness }

func (restAPI) name() string { return "rest" }

func (r restAPI) issue(ctx context.Context, key string, req *ztbrokerv1.IssueTokenRequest) (*ztbrokerv1.IssueTokenResponse, error) {
	out := &ztbrokerv1.IssueTokenResponse{}
	return out, r.h.call(ctx, http.MethodPost, "/v1/purposes/"+url.PathEscape(req.GetPurpose())+"/tokens", key, marshal(req), out)
}

func (r restAPI) get(ctx context.Context, key, id string) (*ztbrokerv1.GetLeaseResponse, error) {
	out := &ztbrokerv1.GetLeaseResponse{}
	return out, r.h.call(ctx, http.MethodGet, "/v1/leases/"+url.PathEscape(id), key, nil, out)
}

func (r restAPI) list(ctx context.Context, key string, req *ztbrokerv1.ListLeasesRequest) (*ztbrokerv1.ListLeasesResponse, error) {
	q := url.Values{}
	if req.GetPageSize() != 0 {
		q.Set("page_size", strconv.Itoa(int(req.GetPageSize())))
	}
	for k, v := range map[string]string{"page_token": req.GetPageToken(), "purpose": req.GetPurpose(), "label": req.GetLabel()} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if req.GetState() != 0 {
		q.Set("state", req.GetState().String())
	}
	out := &ztbrokerv1.ListLeasesResponse{}
	return out, r.h.call(ctx, http.MethodGet, "/v1/leases?"+q.Encode(), key, nil, out)
}

func (r restAPI) renew(ctx context.Context, key string, req *ztbrokerv1.RenewLeaseRequest) (*ztbrokerv1.RenewLeaseResponse, error) {
	out := &ztbrokerv1.RenewLeaseResponse{}
	return out, r.h.call(ctx, http.MethodPost, "/v1/leases/"+url.PathEscape(req.GetId())+":renew", key, marshal(req), out)
}

func (r restAPI) revoke(ctx context.Context, key string, req *ztbrokerv1.RevokeLeaseRequest) (*ztbrokerv1.RevokeLeaseResponse, error) {
	out := &ztbrokerv1.RevokeLeaseResponse{}
	return out, r.h.call(ctx, http.MethodPost, "/v1/leases/"+url.PathEscape(req.GetId())+":revoke", key, marshal(req), out)
}

func marshal(m proto.Message) []byte {
	b, err := protojson.Marshal(m)
	if err != nil {
		panic(err) // only test-built messages reach here
	}
	return b
}

// call sends one REST request and decodes a 200 into out; any other
// status becomes an *apiError carrying the body's code and message.
func (h *harness) call(ctx context.Context, method, path, key string, body []byte, out proto.Message) error {
	status, hdr, raw, err := h.raw(ctx, method, path, key, body)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		var e struct {
			Code    codes.Code `json:"code"`
			Message string     `json:"message"`
			Details []struct {
				Type     string            `json:"@type"`
				Reason   string            `json:"reason"`
				Metadata map[string]string `json:"metadata"`
			} `json:"details"`
		}
		if jerr := json.Unmarshal(raw, &e); jerr != nil {
			return &apiError{HTTP: status, Code: codes.Unknown, Msg: string(raw)}
		}
		ae := &apiError{Code: e.Code, HTTP: status, Msg: e.Message, RetryAfter: hdr.Get("Retry-After")}
		for _, d := range e.Details {
			if d.Type == "type.googleapis.com/google.rpc.ErrorInfo" {
				ae.Reason, ae.Metadata = d.Reason, d.Metadata
			}
		}
		return ae
	}
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(raw, out)
}

func (h *harness) raw(ctx context.Context, method, path, key string, body []byte) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.base+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.httpClient().Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw, err
}

func (h *harness) httpClient() *http.Client { return h.hc }

// wantErr checks err is an *apiError with code, and over REST with the
// matching HTTP status.
func wantErr(t testing.TB, err error, code codes.Code, httpStatus int) *apiError {
	t.Helper()
	ae, ok := err.(*apiError)
	if !ok {
		t.Fatalf("got error %v, want %s", err, code)
	}
	if ae.Code != code {
		t.Fatalf("got %v, want code %s", ae, code)
	}
	if ae.HTTP != 0 && ae.HTTP != httpStatus {
		t.Fatalf("got %v, want HTTP %d", ae, httpStatus)
	}
	return ae
}
