package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"time"
)

// maxBody bounds what we read of any response; Central's largest answer we
// need (a user or a service account with its keys) is far smaller.
const maxBody = 1 << 20

// Request is one call a client makes.
type Request struct {
	// Op names the call for errors, metrics and spans.
	Op       string
	Method   string
	URL      string
	Priority Priority
	// Body, when non-nil, is sent as JSON.
	Body any
	// Authorization is the full header value. It is set on the request and
	// nowhere else.
	Authorization string
}

// Response is a completed call whose body has been read and closed.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// OK reports a 2xx status.
func (r *Response) OK() bool { return r.StatusCode >= 200 && r.StatusCode < 300 }

// Error classifies a non-2xx response, taking any Retry-After into account.
func (r *Response) Error(op string, now time.Time) *Error {
	return StatusError(op, r.StatusCode, RetryAfterFromResponse(r.Header, now))
}

// IsAPIMessage reports whether the body is Central's JSON error shape,
// {"message": "..."}: what tells an API's own 404 from a proxy's.
func (r *Response) IsAPIMessage() bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "application/problem+json") {
		return false
	}
	var m struct {
		Message *string `json:"message"`
	}
	return json.Unmarshal(r.Body, &m) == nil && m.Message != nil && *m.Message != ""
}

// Send performs r on hc. A non-2xx status is not an error here — clients
// decide what a 404 means — but a failure to get any response is, already
// classified by TransportError.
func Send(ctx context.Context, hc *http.Client, r Request) (*Response, error) {
	ctx = WithOperation(WithPriority(ctx, r.Priority), r.Op)
	var body io.Reader
	if r.Body != nil {
		b, err := json.Marshal(r.Body)
		if err != nil {
			return nil, NewError(r.Op, "encoding request")
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return nil, NewError(r.Op, "building request")
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.Authorization != "" {
		req.Header.Set("Authorization", r.Authorization)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, TransportError(r.Op, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, TransportError(r.Op, err)
	}
	return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: b}, nil
}
