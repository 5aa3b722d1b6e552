package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/broker"
	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/proxy"
	"github.com/ztbroker/ztbroker/internal/refusal"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/auditlog"
	"github.com/ztbroker/ztbroker/internal/worker/adminkey"
	"github.com/ztbroker/ztbroker/internal/worker/reconcile"
	"github.com/ztbroker/ztbroker/internal/worker/retention"
	"github.com/ztbroker/ztbroker/internal/worker/revoker"
	"github.com/ztbroker/ztbroker/internal/worker/secreteraser"
	"github.com/ztbroker/ztbroker/internal/worker/sweeper"
)

// Config says what to run. File is a loaded, validated configuration.
type Config struct {
	File   *config.Config
	Logger *slog.Logger
	// Store, when set, is used instead of opening File.Database; broker
	// dev passes an in-memory store.
	Store store.Store
	// Extra HTTP handlers mounted on the HTTP port, e.g. the emulator in
	// dev mode. Keys are ServeMux patterns.
	ExtraHTTP map[string]http.Handler
	// ShutdownTimeout bounds graceful shutdown. Default 20s.
	ShutdownTimeout time.Duration
	// Now overrides the clock for tests.
	Now func() time.Time
	// SIGHUP, when set, triggers a reload of the TLS certificates and of
	// the upstream credentials read from files.
	SIGHUP <-chan os.Signal
	// TracerProvider, when set, makes the server's, the upstream clients'
	// and the workers' spans instead of the OTLP exporter or otel's
	// global, so a test can inspect every span without touching process
	// state.
	TracerProvider trace.TracerProvider
}

// Server is a completed configuration, ready to Run.
type Server struct {
	log       *slog.Logger
	store     store.Store
	service   *broker.Service
	grpc      *grpc.Server
	http      *http.Server
	health    *health.Server
	ops       *http.Server // nil unless listen.ops_addr is set
	readiness *readiness
	grpcLis   net.Listener
	httpLis   net.Listener
	opsLis    net.Listener
	revoker   *revoker.Worker
	sweeper   *sweeper.Sweeper
	reconcil  *reconcile.Reconciler
	eraser    *secreteraser.Eraser
	keeper    *adminkey.Keeper
	refusals  *refusal.Limiter
	// retention deletes ended leases and keeps the audit partitions.
	retention *retention.Worker
	proxy     *proxy.Proxy
	registry  *prometheus.Registry
	ready     prometheus.Gauge
	panics    *panics.Policy
	tls       *tls.Config
	closers   closers
	shutdown  time.Duration
}

// Complete builds every dependency and binds the listeners. On error it
// releases whatever it had acquired.
func (c Config) Complete(ctx context.Context) (_ *Server, err error) {
	if c.File == nil || c.Logger == nil {
		return nil, errors.New("server: File and Logger are required")
	}
	s := &Server{log: c.Logger, shutdown: c.ShutdownTimeout}
	for _, w := range c.File.Warnings() {
		c.Logger.Warn("weak configuration", "warning", w)
	}
	if s.shutdown <= 0 {
		s.shutdown = 20 * time.Second
	}
	defer func() {
		if err != nil {
			if cerr := s.closers.close(); cerr != nil {
				c.Logger.Warn("cleanup after failed start", "err", cerr)
			}
		}
	}()
	now := c.Now
	if now == nil {
		now = time.Now
	}
	f := c.File

	s.registry = prometheus.NewRegistry()
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// One policy for both doors and every worker, so ztbroker_panics_total
	// counts them all.
	s.panics = panics.New(c.Logger)
	s.registry.MustRegister(s.panics)
	s.ready = newReadyGauge()
	s.registry.MustRegister(s.ready)

	tp := c.TracerProvider
	if tp == nil {
		exporting, shutdownTracing, err := setupTracing(ctx)
		if err != nil {
			return nil, err
		}
		s.closers.push(func() error { return shutdownTracing(context.Background()) })
		tp = exporting
	}

	s.store = c.Store
	if s.store == nil {
		st, closeStore, err := openStore(ctx, f, c.Logger)
		if err != nil {
			return nil, err
		}
		s.closers.push(func() error { closeStore(); return nil })
		s.store = st
	}
	s.store = auditlog.Wrap(s.store, c.Logger)

	sealer, err := buildSealer(f)
	if err != nil {
		return nil, err
	}
	tm, err := newTransportMetrics(s.registry)
	if err != nil {
		return nil, err
	}
	// Bound early: a proxy purpose's api_base_url is the HTTP listener's
	// address unless proxy.public_url says otherwise.
	if err := s.listen(f, tm); err != nil {
		return nil, err
	}

	base := newHTTPBase()
	us, err := buildUpstreams(ctx, f, upstreamDeps{reg: s.registry, log: c.Logger, base: base, tp: tp, now: now})
	if err != nil {
		return nil, err
	}
	public := publicURL(f, s.httpLis.Addr().String(), f.Listen.TLS != nil)
	warnUnreachableProxy(c.Logger, f, s.httpLis.Addr())
	purposes, err := buildPurposes(f, us, public)
	if err != nil {
		return nil, err
	}
	s.proxy, err = buildProxy(proxyDeps{
		cfg: f, upstreams: us, store: s.store, log: c.Logger, reg: s.registry, tracer: tp, now: now, base: base, publicURL: public,
	})
	if err != nil {
		return nil, err
	}
	if err := s.buildWorkers(f, purposes, us, sealer, now, tp); err != nil {
		return nil, err
	}
	// Every upstream's credential is checked before anything is served:
	// a refused, unknown or expiring key stops start-up, naming the
	// upstream and the problem.
	if err := s.keeper.Init(ctx); err != nil {
		return nil, err
	}
	tlsHUP, credHUP := fanOut(ctx, c.SIGHUP, &s.closers)
	authn, tlsCfg, err := buildAuth(ctx, f, c.Logger, tlsHUP, &s.closers)
	if err != nil {
		return nil, err
	}
	s.tls = tlsCfg
	if credHUP != nil {
		go reloadCredentials(credHUP, s.keeper, c.Logger)
	}

	names := make([]string, 0, len(f.Purposes))
	for _, p := range f.Purposes {
		names = append(names, p.Name)
	}
	metrics, err := broker.NewMetrics(s.registry, s.store, names...)
	if err != nil {
		return nil, err
	}
	if s.refusals, err = buildRefusals(f, s.store, c.Logger, s.panics, s.registry, now); err != nil {
		return nil, err
	}
	bcfg := broker.Config{
		Rotator:      s.keeper,
		Credentials:  credentialStatus(s.keeper),
		Store:        s.store,
		Purposes:     purposes,
		Revoker:      s.revoker,
		Logger:       c.Logger,
		Metrics:      metrics,
		Now:          now,
		NamePrefix:   f.Tokens.NamePrefix,
		ClaimTimeout: f.Workers.ClaimTimeout,
		// A mint still running when the sweeper judges its lease stale
		// would be discarded; keep it well inside that window.
		MintTimeout:        min(30*time.Second, f.Workers.PendingTimeout/2),
		ReplayWindow:       f.Idempotency.ReplayWindow,
		MaxAuditClaimBytes: f.Audit.MaxClaimBytes,
		Refusals:           s.refusals,
	}
	if sealer != nil {
		bcfg.Sealer = sealer
	}
	if s.service, err = broker.New(bcfg); err != nil {
		return nil, err
	}

	lim := f.Listen.Limits
	s.readiness = newReadiness(s.store.Ping, lim.ReadyzCache, now)
	s.health = health.NewServer()
	s.grpc = newGRPCServer(grpcDeps{service: s.service, authn: authn, tls: tlsCfg, log: c.Logger, health: s.health,
		tracer: tp, panics: s.panics, limits: lim, metrics: tm})
	handler, err := newHTTPHandler(ctx, httpDeps{
		service: s.service,
		authenticate: auth.Middleware(authn, auth.HTTPOptions{Logger: c.Logger, OnFailure: tm.authFailed("http"),
			ExemptPaths: append(auth.DefaultExemptPaths(), "/readyz")}),
		gatherer:     s.registry,
		maxBody:      f.Listen.MaxBodyBytes,
		ready:        s.readiness.check,
		opsElsewhere: f.Listen.OpsAddr != "",
		readyDetail:  readyDetail(s.keeper),
		extra:        c.ExtraHTTP,
		proxy:        s.proxy,
		tracer:       tp,
		panics:       s.panics,
	})
	if err != nil {
		return nil, err
	}
	s.http = newHTTPServer(handler, lim, c.Logger, tm, "http")
	if f.Listen.OpsAddr != "" {
		s.ops = newHTTPServer(newOpsHandler(s.registry, s.readiness.check, readyDetail(s.keeper), s.panics), lim, c.Logger, tm, "ops")
	}
	if tlsCfg != nil {
		s.httpLis = tls.NewListener(s.httpLis, tlsCfg)
	}
	return s, nil
}

// GRPCAddr and HTTPAddr are the bound addresses, useful with port 0.
func (s *Server) GRPCAddr() string { return s.grpcLis.Addr().String() }
func (s *Server) HTTPAddr() string { return s.httpLis.Addr().String() }

// Store is the lease store the server uses.
func (s *Server) Store() store.Store { return s.store }

// TLS reports whether the listeners serve TLS.
func (s *Server) TLS() bool { return s.tls != nil }

// Run serves until ctx ends, then drains in-flight requests, stops the
// workers and releases everything. A clean shutdown returns nil.
func (s *Server) Run(ctx context.Context) error {
	defer func() {
		if err := s.closers.close(); err != nil {
			s.log.Warn("shutdown cleanup", "err", err)
		}
	}()
	g, gctx := errgroup.WithContext(ctx)
	if err := s.startWorkers(gctx); err != nil {
		return err
	}
	defer s.stopWorkers()

	g.Go(func() error {
		if err := s.grpc.Serve(s.grpcLis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			return fmt.Errorf("grpc: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		if err := s.http.Serve(s.httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	if s.ops != nil {
		g.Go(func() error {
			if err := s.ops.Serve(s.opsLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("ops: %w", err)
			}
			return nil
		})
	}
	g.Go(func() error {
		watchHealth(gctx, s.health, s.ready, s.readiness.check, 5*time.Second)
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		s.health.Shutdown()
		s.gracefulStop()
		return nil
	})
	s.log.Info("serving", "grpc", s.GRPCAddr(), "http", s.HTTPAddr(), "ops", s.OpsAddr())
	return g.Wait()
}

func (s *Server) gracefulStop() {
	sctx, cancel := context.WithTimeout(context.Background(), s.shutdown)
	defer cancel()
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(done)
	}()
	for _, h := range []*http.Server{s.http, s.ops} {
		if h == nil {
			continue
		}
		if err := h.Shutdown(sctx); err != nil {
			s.log.Warn("http shutdown", "err", err)
			_ = h.Close()
		}
	}
	select {
	case <-done:
	case <-sctx.Done():
		s.log.Warn("grpc graceful stop timed out; closing connections")
		s.grpc.Stop()
		<-done
	}
}
