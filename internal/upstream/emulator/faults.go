package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Throttle header styles: which headers a throttled (429) answer carries.
const (
	ThrottleBoth       = "both"
	ThrottleRetryAfter = "retry-after"
	ThrottleReset      = "reset"
)

// Fault is what a route does instead of, or before, answering normally.
// Effects apply in field order: latency, hang, throttle, error.
type Fault struct {
	// ErrorRate is the probability that the fault hits a request; zero
	// means every request.
	ErrorRate float64 `json:"errorRate,omitempty"`
	// Status is the status to answer, 200-599. With no status and no
	// other effect, a fault with an ErrorRate answers 500. A 2xx status
	// lets a test answer success with a body the API does not document.
	Status int `json:"status,omitempty"`
	// Body replaces the {"message": …} body a Status answer carries; it is
	// sent as application/json.
	Body string `json:"body,omitempty"`
	// After runs the route's handler first — its change happens upstream —
	// and throws its answer away, so the fault's own effects (a hang, a
	// status, a body) are what the client sees: a key created whose
	// answer was lost.
	After bool `json:"after,omitempty"`
	// Match, when set, limits the fault to requests whose body contains
	// it, e.g. one key's description among many creates.
	Match string `json:"match,omitempty"`
	// Latency delays the answer.
	Latency Duration `json:"latency,omitempty"`
	// Hang holds the request until the client gives up or the emulator
	// closes, then writes a 504 (which is what the counters record).
	Hang bool `json:"hang,omitempty"`
	// Throttle answers 429 asking the client to wait this long.
	Throttle Duration `json:"throttle,omitempty"`
	// ThrottleHeaders is ThrottleReset (only X-Ratelimit-*, as Central was
	// seen to send), ThrottleBoth or ThrottleRetryAfter; empty means the
	// emulator's setting (WithThrottleHeaders, default ThrottleReset).
	ThrottleHeaders string `json:"throttleHeaders,omitempty"`
	// Times limits how many requests the fault hits; zero means until
	// cleared.
	Times int `json:"times,omitempty"`
}

func (f Fault) validate() error {
	var errs []error
	if f.ErrorRate < 0 || f.ErrorRate > 1 {
		errs = append(errs, errors.New("errorRate must be within [0, 1]"))
	}
	if f.Status != 0 && (f.Status < 200 || f.Status > 599) {
		errs = append(errs, errors.New("status must be 200-599"))
	}
	if f.Latency < 0 || f.Throttle < 0 || f.Times < 0 {
		errs = append(errs, errors.New("latency, throttle and times must not be negative"))
	}
	switch f.ThrottleHeaders {
	case "", ThrottleBoth, ThrottleRetryAfter, ThrottleReset:
	default:
		errs = append(errs, fmt.Errorf("throttleHeaders must be %q, %q or %q", ThrottleBoth, ThrottleRetryAfter, ThrottleReset))
	}
	return errors.Join(errs...)
}

func (f Fault) errorStatus() int {
	switch {
	case f.Status != 0:
		return f.Status
	case f.ErrorRate > 0 && f.Latency == 0 && !f.Hang && f.Throttle == 0:
		return 500
	}
	return 0
}

// ParseFault reads the command-line form of a fault: comma-separated
// key=value pairs, e.g. "status=503,rate=0.5", "latency=200ms", "hang",
// "throttle=2s,headers=reset", "status=502,times=1",
// "after,hang,match=-admin@" (a body value cannot hold a comma).
func ParseFault(spec string) (Fault, error) {
	var f Fault
	for part := range strings.SplitSeq(spec, ",") {
		key, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		var err error
		switch key {
		case "status":
			f.Status, err = strconv.Atoi(val)
		case "rate", "errorRate":
			f.ErrorRate, err = strconv.ParseFloat(val, 64)
		case "latency":
			err = f.Latency.parse(val)
		case "hang":
			f.Hang = true
		case "throttle":
			err = f.Throttle.parse(val)
		case "headers", "throttleHeaders":
			f.ThrottleHeaders = val
		case "times":
			f.Times, err = strconv.Atoi(val)
		case "after":
			f.After = true
		case "body":
			f.Body = val
		case "match":
			f.Match = val
		default:
			err = errors.New("unknown key")
		}
		if err != nil {
			return Fault{}, fmt.Errorf("fault %q: %s: %w", spec, key, err)
		}
	}
	if err := f.validate(); err != nil {
		return Fault{}, fmt.Errorf("fault %q: %w", spec, err)
	}
	return f, nil
}

// Duration is a time.Duration that reads and writes JSON as "1.5s".
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"1.5s\"")
	}
	return d.parse(s)
}

func (d *Duration) parse(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func (d Duration) duration() time.Duration { return time.Duration(d) }
