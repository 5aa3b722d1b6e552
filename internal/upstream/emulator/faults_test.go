package emulator_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator/emulatortest"
)

func TestParseFault(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec    string
		want    emulator.Fault
		wantErr bool
	}{
		{spec: "status=503", want: emulator.Fault{Status: 503}},
		{spec: "status=502,rate=0.25,times=3", want: emulator.Fault{Status: 502, ErrorRate: 0.25, Times: 3}},
		{spec: "latency=150ms", want: emulator.Fault{Latency: emulator.Duration(150 * time.Millisecond)}},
		{spec: "hang", want: emulator.Fault{Hang: true}},
		{spec: "throttle=2s,headers=reset", want: emulator.Fault{Throttle: emulator.Duration(2 * time.Second), ThrottleHeaders: "reset"}},
		{spec: "status=200,body={}", want: emulator.Fault{Status: 200, Body: "{}"}},
		{spec: "after,hang,match=-admin@", want: emulator.Fault{After: true, Hang: true, Match: "-admin@"}},
		{spec: "status=199", wantErr: true},
		{spec: "rate=2", wantErr: true},
		{spec: "headers=sometimes", wantErr: true},
		{spec: "latency=soon", wantErr: true},
		{spec: "explode", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			t.Parallel()
			got, err := emulator.ParseFault(tt.spec)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseFault error = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseFault (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorRateIsAProbability(t *testing.T) {
	t.Parallel()
	e := emulatortest.Start(t, emulator.WithSeed(7),
		emulator.WithFault(emulator.RouteV2ListOrgs, emulator.Fault{ErrorRate: 0.5}))
	const n = 200
	for range n {
		if got := e.TryNewCentralToken(context.Background(), "Bearer", e.AdminToken); got != 200 && got != 500 {
			t.Fatalf("status %d, want 200 or 500", got)
		}
	}
	errs := e.Count(emulator.RouteV2ListOrgs, 500)
	if errs == 0 || errs == n {
		t.Errorf("%d of %d requests failed; a rate of 0.5 should fail some, not all", errs, n)
	}
}

func TestFaultTimesAndWildcard(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := emulatortest.Start(t, emulator.WithFault(emulator.RouteAll, emulator.Fault{Status: 503, Times: 2}))
	got := []int{
		e.TryNewCentralToken(ctx, "Bearer", e.AdminToken),
		e.TryLegacyToken(ctx, "token", e.AdminToken),
		e.TryNewCentralToken(ctx, "Bearer", e.AdminToken),
	}
	if diff := cmp.Diff([]int{503, 503, 200}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if f := e.Faults(); len(f) != 0 {
		t.Errorf("spent fault still set: %v", f)
	}
}

func TestSetFaultRejectsUnknownRoute(t *testing.T) {
	t.Parallel()
	e := emulatortest.Start(t)
	if err := e.SetFault("v3.everything", emulator.Fault{Status: 500}); err == nil {
		t.Error("SetFault accepted an unknown route")
	}
	if _, err := emulator.New(emulator.WithAdminToken("a"), emulator.WithFault("nope", emulator.Fault{})); err == nil {
		t.Error("New accepted an unknown fault route")
	}
}

// TestThrottleHeaders checks a 429 both ways: as go-ztcentral recorded
// Central answering (X-Ratelimit-* with the reset as a "UTC" date, and no
// Retry-After, which no source shows), and with Retry-After configured.
func TestThrottleHeaders(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		opts       []emulator.Option
		retryAfter string
	}{
		{"as Central was seen", nil, ""},
		{"with Retry-After", []emulator.Option{emulator.WithThrottleHeaders(emulator.ThrottleBoth)}, "3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			now := time.Date(2024, 8, 6, 20, 53, 45, 0, time.UTC)
			e := emulatortest.Start(t, append([]emulator.Option{emulator.WithClock(func() time.Time { return now }),
				emulator.WithFault(emulator.RouteV2ListOrgs, emulator.Fault{Throttle: emulator.Duration(3 * time.Second)})}, tt.opts...)...)
			resp := get(t, e, "/api/v2/org", "Bearer "+e.AdminToken)
			want := map[string]string{
				"Retry-After":           tt.retryAfter,
				"X-Ratelimit-Limit":     "100",
				"X-Ratelimit-Remaining": "0",
				"X-Ratelimit-Reset":     "Tue, 06 Aug 2024 20:53:48 UTC",
				"Date":                  "Tue, 06 Aug 2024 20:53:45 GMT",
			}
			got := map[string]string{}
			for k := range want {
				got[k] = resp.Header.Get(k)
			}
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Errorf("status = %d, want 429", resp.StatusCode)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGlobalRateLimit(t *testing.T) {
	t.Parallel()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := emulatortest.Start(t, emulator.WithClock(func() time.Time { return clock }), emulator.WithRateLimit(1))
	ctx := context.Background()
	first := e.TryNewCentralToken(ctx, "Bearer", e.AdminToken)
	second := e.TryLegacyToken(ctx, "token", e.AdminToken)
	e.Advance(time.Second)
	third := e.TryNewCentralToken(ctx, "Bearer", e.AdminToken)
	if diff := cmp.Diff([]int{200, 429, 200}, []int{first, second, third}); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	e.SetRateLimit(0)
	if got := e.TryNewCentralToken(ctx, "Bearer", e.AdminToken); got != 200 {
		t.Errorf("after lifting the limit = %d, want 200", got)
	}
}

// TestCloseReleasesHangs: once the emulator closes, a hung route answers
// instead of holding the server's shutdown.
func TestCloseReleasesHangs(t *testing.T) {
	t.Parallel()
	e := emulatortest.Start(t, emulator.WithFault(emulator.RouteV2ListOrgs, emulator.Fault{Hang: true}))
	e.Close()
	if got := e.TryNewCentralToken(context.Background(), "Bearer", e.AdminToken); got != http.StatusGatewayTimeout {
		t.Errorf("hung route after Close = %d, want 504", got)
	}
}

func get(t *testing.T, e *emulatortest.Emulator, path, auth string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, e.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	resp, err := e.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestFaultAfterAndMatch shows the two faults that model a lost answer: the
// key is created (After), and only the request whose body matches is hit.
func TestFaultAfterAndMatch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := emulatortest.Start(t, emulator.WithFault(emulator.RouteV2CreateKey,
		emulator.Fault{After: true, Status: 200, Body: `{}`, Match: `"description":"ztb-lost"`}))
	is := e.NewCentralIssuer(t)
	if _, err := is.Mint(ctx, "ztb-other", e.Now().Add(time.Hour)); err != nil {
		t.Fatalf("a mint the fault does not match: %v", err)
	}
	if _, err := is.Mint(ctx, "ztb-lost", e.Now().Add(time.Hour)); err == nil {
		t.Fatal("a mint answered {} succeeded")
	}
	names := map[string]bool{}
	for _, tok := range e.Tokens().Alive() {
		for _, a := range e.Tokens().ServiceAccounts {
			for _, k := range a.Keys {
				if k.ID == tok.ID {
					names[k.Description] = true
				}
			}
		}
	}
	if !names["ztb-lost"] || !names["ztb-other"] {
		t.Errorf("live keys %v, want both created", names)
	}
}
