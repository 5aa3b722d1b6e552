package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/legacy"
	"github.com/ztbroker/ztbroker/internal/upstream/newcentral"
)

// tap sits between the upstream clients and the emulator. It records
// every secret minted, so tests can look for it where it must not be,
// and with lose set it answers 502 to a create the emulator carried out:
// the response lost on the way back, which the emulator's faults (all
// applied before the handler) cannot stage.
type tap struct {
	next http.RoundTripper
	// createTimeout, when set, gives up on a create after this long, as
	// the client's own timeout would, while other calls keep the
	// client's generous default and so cannot time out on a busy machine.
	createTimeout time.Duration

	mu      sync.Mutex
	lose    bool
	secrets []string
}

func (tp *tap) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPost || r.Body == nil {
		return tp.next.RoundTrip(r)
	}
	sent, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	if tp.createTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, tp.createTimeout)
		defer cancel()
	}
	out := r.Clone(ctx)
	out.Body = io.NopCloser(bytes.NewReader(sent))
	resp, err := tp.next.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var secret struct {
		Key   string `json:"key"`   // New Central's create response
		Token string `json:"token"` // Legacy's create request
	}
	_ = json.Unmarshal(sent, &secret)
	_ = json.Unmarshal(got, &secret)
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if resp.StatusCode/100 == 2 {
		for _, s := range []string{secret.Key, secret.Token} {
			if s != "" {
				tp.secrets = append(tp.secrets, s)
			}
		}
		if tp.lose {
			return &http.Response{
				Status: "502 Bad Gateway", StatusCode: http.StatusBadGateway,
				Proto: resp.Proto, ProtoMajor: resp.ProtoMajor, ProtoMinor: resp.ProtoMinor,
				Header:  http.Header{"Content-Type": {"text/plain"}},
				Body:    io.NopCloser(strings.NewReader("bad gateway")),
				Request: r,
			}, nil
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(got))
	return resp, nil
}

func (tp *tap) Secrets() []string {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]string(nil), tp.secrets...)
}

// withTap routes both clients through tp.
func withTap(tp *tap) benchOption {
	return func(o *benchOptions) {
		withNewCentral(func(c *newcentral.Config) {
			tp.next = c.HTTPClient.Transport
			c.HTTPClient = &http.Client{Transport: tp}
		})(o)
		withLegacy(func(c *legacy.Config) {
			tp.next = c.HTTPClient.Transport
			c.HTTPClient = &http.Client{Transport: tp}
		})(o)
	}
}

// hookedStore is the memory store with some methods replaced.
type hookedStore struct {
	store.Store
	createPending func(context.Context, store.CreatePendingParams) (*store.CreatePendingResult, error)
	activate      func(context.Context, store.ActivateParams) (*lease.Lease, error)
}

func (h *hookedStore) CreatePending(ctx context.Context, p store.CreatePendingParams) (*store.CreatePendingResult, error) {
	if h.createPending != nil {
		return h.createPending(ctx, p)
	}
	return h.Store.CreatePending(ctx, p)
}

func (h *hookedStore) Activate(ctx context.Context, p store.ActivateParams) (*lease.Lease, error) {
	if h.activate != nil {
		return h.activate(ctx, p)
	}
	return h.Store.Activate(ctx, p)
}

type upstreamRoutes struct{ create, list, delete string }

var routesOf = map[string]upstreamRoutes{
	purposeNC:     {emulator.RouteV2CreateKey, emulator.RouteV2GetServiceAccount, emulator.RouteV2DeleteKey},
	purposeLegacy: {emulator.RouteV1CreateToken, emulator.RouteV1GetUser, emulator.RouteV1DeleteToken},
}

// calls counts the requests the emulator answered on route, any status.
func (b *bench) calls(route string) int {
	n := 0
	for _, c := range b.emu.Counters()[route] {
		n += c
	}
	return n
}

const msgMintFailed = "the ZeroTier API did not mint a token; no token was issued, retry later"

// TestMintFailure covers an upstream that fails to mint. The caller is
// told to retry, and whatever the failure, no token may be left alive
// without a lease that says so: either the lease is failed and the token
// never existed or was deleted by name, or the lease stays pending for
// the sweeper.
func TestMintFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// faults go on the purpose's routes, by create, list and delete.
		faults func(r upstreamRoutes) map[string]emulator.Fault
		// lose makes the create succeed upstream and its answer vanish.
		lose bool
		// state is the lease's state afterwards.
		state lease.State
		// cleanup says the service listed tokens to delete by name.
		cleanup bool
		// minted is how many tokens the emulator created; alive how many
		// are left alive.
		minted, alive int
		// only limits the case to one purpose.
		only string
	}{
		{
			name: "503 on create",
			faults: func(r upstreamRoutes) map[string]emulator.Fault {
				return map[string]emulator.Fault{r.create: {Status: 503}}
			},
			state: lease.StateFailed, cleanup: true,
		},
		{
			// A 400 is unambiguous: nothing was created, so nothing is
			// looked up.
			name: "400 on create",
			faults: func(r upstreamRoutes) map[string]emulator.Fault {
				return map[string]emulator.Fault{r.create: {Status: 400}}
			},
			state: lease.StateFailed,
		},
		{
			name: "hang on create",
			faults: func(r upstreamRoutes) map[string]emulator.Fault {
				return map[string]emulator.Fault{r.create: {Hang: true}}
			},
			state: lease.StateFailed, cleanup: true,
		},
		{
			name:  "created, then the response was lost",
			lose:  true,
			state: lease.StateFailed, cleanup: true, minted: 1,
		},
		{
			// Success without the key is ambiguous: the key exists.
			name: "created, answered 200 without the key",
			faults: func(r upstreamRoutes) map[string]emulator.Fault {
				return map[string]emulator.Fault{r.create: {After: true, Status: 200, Body: `{"id":""}`}}
			},
			state: lease.StateFailed, cleanup: true, minted: 1, only: purposeNC,
		},
		{
			name: "created, response lost, and the lookup fails",
			lose: true,
			faults: func(r upstreamRoutes) map[string]emulator.Fault {
				return map[string]emulator.Fault{r.list: {Status: 503}}
			},
			state: lease.StatePending, cleanup: true, minted: 1, alive: 1,
		},
		{
			name: "created, response lost, and the delete fails",
			lose: true,
			faults: func(r upstreamRoutes) map[string]emulator.Fault {
				return map[string]emulator.Fault{r.delete: {Status: 503}}
			},
			state: lease.StatePending, cleanup: true, minted: 1, alive: 1,
		},
	}
	for _, purpose := range []string{purposeNC, purposeLegacy} {
		for _, tt := range tests {
			if tt.only != "" && tt.only != purpose {
				continue
			}
			t.Run(purpose+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				routes := routesOf[purpose]
				var emuOpts []emulator.Option
				if tt.faults != nil {
					for route, f := range tt.faults(routes) {
						emuOpts = append(emuOpts, emulator.WithFault(route, f))
					}
				}
				// A hung create is given up on quickly; nothing else waits.
				tp := &tap{lose: tt.lose, createTimeout: 100 * time.Millisecond}
				b := setup(t, withEmulator(emuOpts...), withTap(tp))

				_, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{Purpose: purpose})
				wantStatus(t, err, codes.Unavailable, msgMintFailed)

				ls := b.leases(t)
				if len(ls) != 1 {
					t.Fatalf("%d leases, want 1", len(ls))
				}
				l := ls[0]
				if l.State != tt.state {
					t.Errorf("lease %s, want %s", l.State, tt.state)
				}
				wantActions := []string(nil)
				if tt.state == lease.StateFailed {
					wantActions = []string{ActionMintFailed}
					if l.RevokeReason != lease.ReasonMintFailed || !l.RevokeTime.Equal(b.clock.Now()) {
						t.Errorf("failed lease: reason %q at %v", l.RevokeReason, l.RevokeTime)
					}
					ev := b.audit(t)[0]
					if ev.LeaseID != l.ID || ev.ActorSubject != alice.Subject || ev.Result != "failed" || ev.Reason != lease.ReasonMintFailed {
						t.Errorf("mint_failed event %+v", ev)
					}
				}
				if diff := cmp.Diff(wantActions, b.actions(t)); diff != "" {
					t.Errorf("audit actions (-want +got):\n%s", diff)
				}
				if got := b.calls(routes.list) > 0; got != tt.cleanup {
					t.Errorf("looked up tokens by name: %t, want %t", got, tt.cleanup)
				}
				if n := len(b.tokens()); n != tt.minted {
					t.Errorf("emulator created %d tokens, want %d", n, tt.minted)
				}
				alive := b.alive()
				if len(alive) != tt.alive {
					t.Errorf("live tokens %+v, want %d", alive, tt.alive)
				}
				for _, tok := range alive {
					// A token left alive is the pending lease's, which the
					// sweeper deletes by this name.
					if tok.Name != l.UpstreamName {
						t.Errorf("live token %q is not the pending lease's %q", tok.Name, l.UpstreamName)
					}
				}
				for _, s := range tp.Secrets() {
					if leaks := b.leaked(t, s, err.Error()); len(leaks) > 0 {
						t.Errorf("minted secret found in %v", leaks)
					}
				}
				if strings.Contains(err.Error(), b.emu.URL) || strings.Contains(err.Error(), "HTTP") {
					t.Errorf("error %q carries upstream detail", err)
				}
			})
		}
	}
}

// TestActivateFailure covers a token minted upstream whose lease could
// not be activated: the token must be deleted at once, or, if that fails,
// the lease must stay pending so the sweeper deletes it.
func TestActivateFailure(t *testing.T) {
	t.Parallel()
	storeErr := errors.New("pgstore: activate: dial tcp 10.9.8.7:5432: connection refused")
	tests := []struct {
		name string
		// activate replaces the store's Activate; inner is the real one.
		activate func(inner store.Store) func(context.Context, store.ActivateParams) (*lease.Lease, error)
		sealer   Sealer
		faults   []emulator.Option
		code     codes.Code
		msg      string
		state    lease.State
		reason   string
		actions  []string
		alive    int
	}{
		{
			name: "store error",
			activate: func(store.Store) func(context.Context, store.ActivateParams) (*lease.Lease, error) {
				return func(context.Context, store.ActivateParams) (*lease.Lease, error) {
					return nil, fmt.Errorf("activate: %w", storeErr)
				}
			},
			code: codes.Internal, msg: "internal error",
			state: lease.StateFailed, reason: lease.ReasonMintFailed, actions: []string{ActionMintFailed},
		},
		{
			name: "store error, and the delete fails",
			activate: func(store.Store) func(context.Context, store.ActivateParams) (*lease.Lease, error) {
				return func(context.Context, store.ActivateParams) (*lease.Lease, error) { return nil, storeErr }
			},
			faults: []emulator.Option{emulator.WithFault(emulator.RouteV2DeleteKey, emulator.Fault{Status: 503})},
			code:   codes.Internal, msg: "internal error",
			state: lease.StatePending, alive: 1,
		},
		{
			// The sweeper judged the lease stale and failed it while the
			// mint was slow; activation finds it no longer pending.
			name: "sweeper ended the lease first",
			activate: func(inner store.Store) func(context.Context, store.ActivateParams) (*lease.Lease, error) {
				return func(ctx context.Context, p store.ActivateParams) (*lease.Lease, error) {
					if _, err := inner.FailPending(ctx, store.FailPendingParams{ID: p.ID, Reason: lease.ReasonCrashed, Now: p.Now}); err != nil {
						return nil, err
					}
					return inner.Activate(ctx, p)
				}
			},
			code: codes.Unavailable, msg: "issuance took too long and was abandoned; retry",
			state: lease.StateFailed, reason: lease.ReasonCrashed,
		},
		{
			name:   "sealing fails",
			sealer: failingSealer{},
			code:   codes.Internal, msg: "internal error",
			state: lease.StateFailed, reason: lease.ReasonMintFailed, actions: []string{ActionMintFailed},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tp := &tap{}
			opts := []benchOption{withTap(tp), withEmulator(tt.faults...)}
			if tt.activate != nil {
				opts = append(opts, withStore(func(inner store.Store) store.Store {
					return &hookedStore{Store: inner, activate: tt.activate(inner)}
				}))
			}
			if tt.sealer != nil {
				opts = append(opts, withSealer(tt.sealer))
			}
			b := setup(t, opts...)

			_, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, IdempotencyKey: "k"})
			wantStatus(t, err, tt.code, tt.msg)

			ls := b.leases(t)
			if len(ls) != 1 {
				t.Fatalf("%d leases, want 1", len(ls))
			}
			if got := [2]string{string(ls[0].State), ls[0].RevokeReason}; got != [2]string{string(tt.state), tt.reason} {
				t.Errorf("lease [state, reason] = %v, want [%s %s]", got, tt.state, tt.reason)
			}
			if diff := cmp.Diff(tt.actions, b.actions(t)); diff != "" {
				t.Errorf("audit actions (-want +got):\n%s", diff)
			}
			// The failure is the caller's request ending, so the trail
			// says whose, as it does when the upstream fails.
			for _, ev := range b.audit(t) {
				if ev.Action == ActionMintFailed && (ev.ActorKind != alice.Kind || ev.ActorSubject != alice.Subject) {
					t.Errorf("mint_failed event names actor %q:%q, want %s", ev.ActorKind, ev.ActorSubject, alice.Owner())
				}
			}
			if n := len(b.tokens()); n != 1 {
				t.Errorf("emulator created %d tokens, want 1", n)
			}
			if n := len(b.alive()); n != tt.alive {
				t.Errorf("%d live tokens, want %d", n, tt.alive)
			}
			if len(b.revoker.Nudges()) != 0 {
				t.Error("the revoker was nudged for a lease that never became active")
			}
			secrets := tp.Secrets()
			if len(secrets) != 1 {
				t.Fatalf("tapped %d secrets, want 1", len(secrets))
			}
			if leaks := b.leaked(t, secrets[0], err.Error()); len(leaks) > 0 {
				t.Errorf("minted secret found in %v", leaks)
			}
			if strings.Contains(err.Error(), "10.9.8.7") || strings.Contains(err.Error(), "pgstore") {
				t.Errorf("error %q carries the store's detail", err)
			}
		})
	}
}

type failingSealer struct{}

func (failingSealer) Seal([]byte, string) ([]byte, error) {
	return nil, errors.New("seal: entropy exhausted")
}
func (failingSealer) Open([]byte, string) ([]byte, error) {
	return nil, errors.New("seal: cannot open")
}

// TestIssueOutlivesCaller checks the caller hanging up after the pending
// lease is written does not stop the mint halfway: the sequence runs to
// an active lease, so a retry can find it.
func TestIssueOutlivesCaller(t *testing.T) {
	t.Parallel()
	var hangUp context.CancelFunc
	b := setup(t, withStore(func(inner store.Store) store.Store {
		return &hookedStore{Store: inner, createPending: func(ctx context.Context, p store.CreatePendingParams) (*store.CreatePendingResult, error) {
			res, err := inner.CreatePending(ctx, p)
			hangUp()
			return res, err
		}}
	}))
	ctx, cancel := context.WithCancel(as(t, alice))
	hangUp = cancel
	resp, err := b.svc.IssueToken(ctx, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	if ctx.Err() == nil {
		t.Fatal("the caller's context was never cancelled")
	}
	if l := b.lease(t, resp.GetLease().GetId()); l.State != lease.StateActive {
		t.Errorf("lease %s, want active", l.State)
	}
	if n := len(b.alive()); n != 1 {
		t.Errorf("%d live tokens, want 1", n)
	}
}

// TestIssueStoreUnavailable checks a store failure before anything is
// minted maps through its sentinel and mints nothing.
func TestIssueStoreUnavailable(t *testing.T) {
	t.Parallel()
	b := setup(t, withStore(func(inner store.Store) store.Store {
		return &hookedStore{Store: inner, createPending: func(context.Context, store.CreatePendingParams) (*store.CreatePendingResult, error) {
			return nil, fmt.Errorf("pgstore: create pending: pool closed at 10.9.8.7: %w", errs.Unavailable)
		}}
	}))
	_, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
	wantStatus(t, err, codes.Unavailable, "the service is temporarily unavailable; retry")
	if n := len(b.tokens()); n != 0 {
		t.Errorf("%d tokens minted without a pending lease", n)
	}
}
