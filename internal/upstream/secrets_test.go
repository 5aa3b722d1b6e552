package upstream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator/emulatortest"
	"github.com/ztbroker/ztbroker/internal/upstream/legacy"
	"github.com/ztbroker/ztbroker/internal/upstream/newcentral"
)

// echoServer plays a hostile upstream: it quotes whatever it was sent back
// in its error bodies, and answers creates with malformed bodies that
// still carry a key.
type echoServer struct {
	mu       sync.Mutex
	received []string
}

func (e *echoServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal(b, &req)
	e.mu.Lock()
	e.received = append(e.received, req.Token)
	e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.Contains(r.URL.Path, "/api-key"):
		// A numeric key, which a JSON type error would quote.
		fmt.Fprint(w, `{"id": "k1", "key": 98765432109876543210}`)
	default:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"message": "bad token %s", "auth": %q}`, req.Token, r.Header.Get("Authorization"))
	}
}

// TestNoSecretsEscape drives both clients through success and every kind of
// failure, then searches error strings, logs, metrics and spans for any
// credential involved.
func TestNoSecretsEscape(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	const badAdmin = "BAD-ADMIN-CREDENTIAL-bbbbbbbbbbbbbbbbbbbb"
	e := emulatortest.Start(t)
	opts := func(o *upstream.Options) {
		o.Registerer, o.TracerProvider, o.Logger = reg, tp, logger
	}
	nc := e.NewCentralIssuer(t, func(c *newcentral.Config) { opts(&c.Upstream) })
	lg := e.LegacyIssuer(t, func(c *legacy.Config) { opts(&c.Upstream) })
	ncBad := e.NewCentralIssuer(t, func(c *newcentral.Config) { opts(&c.Upstream); c.Credential = upstream.NewAdminCredential(badAdmin) })
	lgBad := e.LegacyIssuer(t, func(c *legacy.Config) {
		opts(&c.Upstream)
		c.Credential, c.UserID = upstream.NewAdminCredential(badAdmin), ""
	})
	// Only calls that never answer get a short timeout: on a loaded
	// machine it would cut off the answers the other calls expect.
	ncHang := e.NewCentralIssuer(t, func(c *newcentral.Config) { opts(&c.Upstream); c.Upstream.Timeout = 100 * time.Millisecond })
	lgHang := e.LegacyIssuer(t, func(c *legacy.Config) { opts(&c.Upstream); c.Upstream.Timeout = 100 * time.Millisecond })

	echo := &echoServer{}
	echoSrv := httptest.NewServer(echo)
	t.Cleanup(echoSrv.Close)
	ncEcho, err := newcentral.New(newcentral.Config{
		BaseURL: echoSrv.URL, HTTPClient: echoSrv.Client(), AdminKey: e.AdminToken, ServiceAccountID: "sa",
		Upstream: upstream.Options{Registerer: reg, TracerProvider: tp, Logger: logger},
	})
	if err != nil {
		t.Fatal(err)
	}
	lgEcho, err := legacy.New(legacy.Config{
		BaseURL: echoSrv.URL, HTTPClient: echoSrv.Client(), AdminToken: e.AdminToken, UserID: "u",
		Upstream: upstream.Options{Registerer: reg, TracerProvider: tp, Logger: logger},
	})
	if err != nil {
		t.Fatal(err)
	}

	secrets := []string{e.AdminToken, badAdmin, "98765432109876543210"}
	var errs []error
	record := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	exp := e.Now().Add(time.Hour)
	for _, is := range []upstream.Issuer{nc, lg} {
		m, err := is.Mint(ctx, "ztb-ok", exp)
		if err != nil {
			t.Fatalf("Mint: %v", err)
		}
		secrets = append(secrets, m.Secret)
		record(is.Delete(ctx, m.ID))
		_, err = is.List(ctx)
		record(err)
	}
	for _, is := range []upstream.Issuer{ncBad, lgBad, ncEcho, lgEcho} {
		_, err := is.Mint(ctx, "ztb-fail", exp)
		record(err)
		record(is.Delete(ctx, "ztb-fail"))
	}
	faults := []emulator.Fault{
		{Status: 503}, {Status: 400}, {Hang: true},
		{Throttle: emulator.Duration(time.Second), ThrottleHeaders: emulator.ThrottleReset},
	}
	for _, f := range faults {
		if err := e.SetFault(emulator.RouteAll, f); err != nil {
			t.Fatal(err)
		}
		issuers := []upstream.Issuer{nc, lg}
		if f.Hang {
			issuers = []upstream.Issuer{ncHang, lgHang}
		}
		for _, is := range issuers {
			_, err := is.Mint(ctx, "ztb-fault", exp)
			record(err)
		}
	}
	echo.mu.Lock()
	for _, tok := range echo.received {
		if tok != "" {
			secrets = append(secrets, tok)
		}
	}
	echo.mu.Unlock()
	if len(errs) < 10 {
		t.Fatalf("only %d failures recorded; the scenarios did not fail as intended", len(errs))
	}

	var out strings.Builder
	for _, err := range errs {
		fmt.Fprintf(&out, "%v\n%+v\n%#v\n", err, err, err)
	}
	logMu.Lock()
	out.WriteString(logs.String())
	logMu.Unlock()
	out.WriteString(metricsText(t, reg))
	for _, s := range spans.Ended() {
		fmt.Fprintf(&out, "%s %v %v %v\n", s.Name(), s.Attributes(), s.Events(), s.Status())
	}
	if !strings.Contains(out.String(), "upstream throttled") {
		t.Error("no throttling log line was produced; the log check proves nothing")
	}
	for _, secret := range secrets {
		if strings.Contains(out.String(), secret) {
			t.Errorf("a secret (%d chars) appears in errors, logs, metrics or spans", len(secret))
		}
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
