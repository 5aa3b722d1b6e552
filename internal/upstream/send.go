package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/ztbroker/ztbroker/internal/errs"
)

// DefaultMaxResponseBytes bounds what a client reads of one response. A
// service account's key list grows by about 300 bytes a key, so this
// allows some 200,000 keys; the bound is there so that a broken upstream
// cannot exhaust the broker's memory, not to cut off a real answer.
const DefaultMaxResponseBytes = 64 << 20

// maxErrorBody bounds what is read of a non-2xx answer: only its shape is
// ever looked at.
const maxErrorBody = 64 << 10

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
	// MaxBytes bounds the response body; zero means
	// DefaultMaxResponseBytes. A longer body is an error, never silently
	// cut short.
	MaxBytes int64
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

// Send performs r on hc and reads the whole body. A non-2xx status is not
// an error here — clients decide what a 404 means — but a failure to get
// any response is, already classified by TransportError, and so is a body
// over the cap.
func Send(ctx context.Context, hc *http.Client, r Request) (*Response, error) {
	var body []byte
	resp, err := SendStream(ctx, hc, r, func(rd io.Reader) error {
		var err error
		body, err = io.ReadAll(rd)
		return err
	})
	if err != nil {
		return nil, err
	}
	if resp.OK() {
		resp.Body = body
	}
	return resp, nil
}

// SendStream performs r on hc and hands a 2xx body to decode as a stream,
// so a listing of any size is decoded without first being held whole in
// memory. The body is capped at r.MaxBytes: decode sees an error wrapping
// ErrTooLarge when the upstream sends more. A non-2xx answer is returned
// with (a bounded prefix of) its body for the caller to classify, and
// decode is not called.
func SendStream(ctx context.Context, hc *http.Client, r Request, decode func(io.Reader) error) (*Response, error) {
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
	out := &Response{StatusCode: resp.StatusCode, Header: resp.Header}
	if !out.OK() {
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if err != nil {
			return nil, TransportError(r.Op, err)
		}
		out.Body = b
		return out, nil
	}
	limit := r.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxResponseBytes
	}
	capped := &cappedReader{r: resp.Body, left: limit}
	if err := decode(capped); err != nil {
		switch {
		case capped.over:
			return nil, &Error{Op: r.Op, Msg: fmt.Sprintf("response larger than the cap of %d bytes (raise max_response_bytes)", limit),
				kind: errs.FailedPrecondition, cause: ErrTooLarge}
		case capped.readErr != nil:
			return nil, TransportError(r.Op, capped.readErr)
		default:
			return nil, err
		}
	}
	// Drain what decode left so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	return out, nil
}

// ErrTooLarge is the cause of an upstream error for a response over the
// client's cap.
var ErrTooLarge = errors.New("upstream response too large")

// cappedReader fails, rather than ending early, once more than left bytes
// arrive: a listing cut short would look complete and hide keys.
type cappedReader struct {
	r       io.Reader
	left    int64
	over    bool
	readErr error
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One more byte tells "exactly at the cap" from "over it".
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			c.over = true
			return 0, ErrTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if err != nil && err != io.EOF {
		c.readErr = err
	}
	return n, err
}
