package clientcmd

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// fakeBroker serves both broker services on a loopback port. A test sets
// the handlers it expects to be called; any other call fails with
// Unimplemented naming the method, so a surprise call shows up.
type fakeBroker struct {
	ztbrokerv1.UnimplementedTokenBrokerServer
	ztbrokerv1.UnimplementedAdminServiceServer

	issue        func(context.Context, *ztbrokerv1.IssueTokenRequest) (*ztbrokerv1.IssueTokenResponse, error)
	getLease     func(context.Context, *ztbrokerv1.GetLeaseRequest) (*ztbrokerv1.GetLeaseResponse, error)
	listLeases   func(context.Context, *ztbrokerv1.ListLeasesRequest) (*ztbrokerv1.ListLeasesResponse, error)
	renew        func(context.Context, *ztbrokerv1.RenewLeaseRequest) (*ztbrokerv1.RenewLeaseResponse, error)
	revoke       func(context.Context, *ztbrokerv1.RevokeLeaseRequest) (*ztbrokerv1.RevokeLeaseResponse, error)
	revokeLeases func(context.Context, *ztbrokerv1.RevokeLeasesRequest) (*ztbrokerv1.RevokeLeasesResponse, error)
	forget       func(context.Context, *ztbrokerv1.ForgetLeaseRequest) (*ztbrokerv1.ForgetLeaseResponse, error)
	audit        func(context.Context, *ztbrokerv1.ListAuditEventsRequest) (*ztbrokerv1.ListAuditEventsResponse, error)
	rotate       func(context.Context, *ztbrokerv1.RotateUpstreamKeyRequest) (*ztbrokerv1.RotateUpstreamKeyResponse, error)
	upstreams    func(context.Context, *ztbrokerv1.ListUpstreamsRequest) (*ztbrokerv1.ListUpstreamsResponse, error)

	mu    sync.Mutex
	calls []fakeCall
}

type fakeCall struct {
	method string
	authz  string
	req    any
}

func (f *fakeBroker) record(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{method: info.FullMethod[strings.LastIndex(info.FullMethod, "/")+1:],
		authz: strings.Join(md.Get("authorization"), ","), req: req})
	f.mu.Unlock()
	return h(ctx, req)
}

// called returns the calls made to method, in order.
func (f *fakeBroker) called(method string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if c.method == method {
			out = append(out, c)
		}
	}
	return out
}

// start serves f and returns its address.
func (f *fakeBroker) start(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(f.record))
	ztbrokerv1.RegisterTokenBrokerServer(srv, f)
	ztbrokerv1.RegisterAdminServiceServer(srv, f)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	return lis.Addr().String()
}

func unimplemented(method string) error {
	return status.Errorf(codes.Unimplemented, "fake broker: no handler for %s in this test", method)
}

func (f *fakeBroker) IssueToken(ctx context.Context, r *ztbrokerv1.IssueTokenRequest) (*ztbrokerv1.IssueTokenResponse, error) {
	if f.issue == nil {
		return nil, unimplemented("IssueToken")
	}
	return f.issue(ctx, r)
}

func (f *fakeBroker) GetLease(ctx context.Context, r *ztbrokerv1.GetLeaseRequest) (*ztbrokerv1.GetLeaseResponse, error) {
	if f.getLease == nil {
		return nil, unimplemented("GetLease")
	}
	return f.getLease(ctx, r)
}

func (f *fakeBroker) ListLeases(ctx context.Context, r *ztbrokerv1.ListLeasesRequest) (*ztbrokerv1.ListLeasesResponse, error) {
	if f.listLeases == nil {
		return nil, unimplemented("ListLeases")
	}
	return f.listLeases(ctx, r)
}

func (f *fakeBroker) RenewLease(ctx context.Context, r *ztbrokerv1.RenewLeaseRequest) (*ztbrokerv1.RenewLeaseResponse, error) {
	if f.renew == nil {
		return nil, unimplemented("RenewLease")
	}
	return f.renew(ctx, r)
}

func (f *fakeBroker) RevokeLease(ctx context.Context, r *ztbrokerv1.RevokeLeaseRequest) (*ztbrokerv1.RevokeLeaseResponse, error) {
	if f.revoke == nil {
		return nil, unimplemented("RevokeLease")
	}
	return f.revoke(ctx, r)
}

func (f *fakeBroker) RevokeLeases(ctx context.Context, r *ztbrokerv1.RevokeLeasesRequest) (*ztbrokerv1.RevokeLeasesResponse, error) {
	if f.revokeLeases == nil {
		return nil, unimplemented("RevokeLeases")
	}
	return f.revokeLeases(ctx, r)
}

func (f *fakeBroker) ForgetLease(ctx context.Context, r *ztbrokerv1.ForgetLeaseRequest) (*ztbrokerv1.ForgetLeaseResponse, error) {
	if f.forget == nil {
		return nil, unimplemented("ForgetLease")
	}
	return f.forget(ctx, r)
}

func (f *fakeBroker) ListAuditEvents(ctx context.Context, r *ztbrokerv1.ListAuditEventsRequest) (*ztbrokerv1.ListAuditEventsResponse, error) {
	if f.audit == nil {
		return nil, unimplemented("ListAuditEvents")
	}
	return f.audit(ctx, r)
}

func (f *fakeBroker) RotateUpstreamKey(ctx context.Context, r *ztbrokerv1.RotateUpstreamKeyRequest) (*ztbrokerv1.RotateUpstreamKeyResponse, error) {
	if f.rotate == nil {
		return nil, unimplemented("RotateUpstreamKey")
	}
	return f.rotate(ctx, r)
}

func (f *fakeBroker) ListUpstreams(ctx context.Context, r *ztbrokerv1.ListUpstreamsRequest) (*ztbrokerv1.ListUpstreamsResponse, error) {
	if f.upstreams == nil {
		return nil, unimplemented("ListUpstreams")
	}
	return f.upstreams(ctx, r)
}

// okRevoke is a RevokeLease handler that always succeeds.
func okRevoke(_ context.Context, r *ztbrokerv1.RevokeLeaseRequest) (*ztbrokerv1.RevokeLeaseResponse, error) {
	return &ztbrokerv1.RevokeLeaseResponse{Lease: &ztbrokerv1.Lease{Id: r.GetId(), State: ztbrokerv1.Lease_STATE_REVOKED}}, nil
}

// fakeClock stands still until a test fires one of the timers it handed
// out; firing moves the clock to the timer's time.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers chan *fakeTimer
}

type fakeTimer struct {
	d   time.Duration
	at  time.Time
	ch  chan time.Time
	clk *fakeClock
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Now().UTC().Truncate(time.Second), timers: make(chan *fakeTimer, 100)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	t := &fakeTimer{d: d, at: c.Now().Add(d), ch: make(chan time.Time, 1), clk: c}
	c.timers <- t
	return t.ch
}

// next is the next timer asked for, in the order asked.
func (c *fakeClock) next(t *testing.T) *fakeTimer {
	t.Helper()
	select {
	case tm := <-c.timers:
		return tm
	case <-time.After(30 * time.Second):
		t.Fatal("no timer was started")
		return nil
	}
}

func (t *fakeTimer) fire() {
	t.clk.mu.Lock()
	if t.at.After(t.clk.now) {
		t.clk.now = t.at
	}
	now := t.clk.now
	t.clk.mu.Unlock()
	t.ch <- now
}

// syncBuffer is an output a command and its child write concurrently and
// a test can wait on.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.changed)
	b.changed = make(chan struct{})
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor blocks until the output contains s.
func (b *syncBuffer) waitFor(t *testing.T, s string) {
	t.Helper()
	for {
		b.mu.Lock()
		has, ch := strings.Contains(b.buf.String(), s), b.changed
		b.mu.Unlock()
		if has {
			return
		}
		select {
		case <-ch:
		case <-time.After(30 * time.Second):
			t.Fatalf("output never contained %q; it is %q", s, b.String())
		}
	}
}

// harness is one test's fake broker, clock, outputs and environment.
type harness struct {
	fake   *fakeBroker
	clock  *fakeClock
	stdout *syncBuffer
	stderr *syncBuffer
	vars   map[string]string
	env    Env
}

func newHarness(t *testing.T, fb *fakeBroker) *harness {
	t.Helper()
	h := &harness{fake: fb, clock: newFakeClock(), stdout: newSyncBuffer(), stderr: newSyncBuffer()}
	h.vars = map[string]string{
		"BROKER_ADDR":    fb.start(t),
		"BROKER_API_KEY": testAPIKey,
		"PATH":           "/usr/local/bin:/usr/bin:/bin",
	}
	h.env = Env{
		Stdout: h.stdout,
		Stderr: h.stderr,
		Getenv: func(k string) string { return h.vars[k] },
		Environ: func() []string {
			return []string{"PATH=" + h.vars["PATH"], "ZEROTIER_CENTRAL_TOKEN=stale-from-parent"}
		},
		Clock: h.clock,
	}
	return h
}

const (
	testAPIKey = "zbk_test_api_key_secret"
	testToken  = "ztc_minted_secret_token"
)

// activeLease is what the fake broker issues: 30 minutes, renewable to 2h.
func activeLease(now time.Time, id string) *ztbrokerv1.Lease {
	return &ztbrokerv1.Lease{
		Id:            id,
		Purpose:       "deploy",
		Owner:         "api_key:ci",
		State:         ztbrokerv1.Lease_STATE_ACTIVE,
		IssueTime:     timestamppb.New(now),
		ExpireTime:    timestamppb.New(now.Add(30 * time.Minute)),
		MaxExpireTime: timestamppb.New(now.Add(2 * time.Hour)),
	}
}

func issued(l *ztbrokerv1.Lease) *ztbrokerv1.IssueTokenResponse {
	return &ztbrokerv1.IssueTokenResponse{
		Token:      testToken,
		Lease:      l,
		ApiBaseUrl: "https://api.zerotier.com/api/v1",
		AuthScheme: "Bearer",
	}
}

// exitOf waits for a command started in a goroutine to return its code.
func exitOf(t *testing.T, done <-chan int) int {
	t.Helper()
	select {
	case code := <-done:
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("the command never returned")
		return -1
	}
}
