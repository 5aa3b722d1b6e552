package adminkey_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/seal"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/pgstore"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator/emulatortest"
	"github.com/ztbroker/ztbroker/internal/upstream/newcentral"
	"github.com/ztbroker/ztbroker/internal/worker"
	"github.com/ztbroker/ztbroker/internal/worker/adminkey"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

const (
	prefix = "ztb"
	name   = "new_central"
)

// bench is an emulator, a store and a keeper for its New Central
// upstream; replica makes more keepers on the same store and emulator.
type bench struct {
	clock  *workertest.Clock
	emu    *emulatortest.Emulator
	store  store.Store
	sealer *seal.Sealer
	logs   *syncBuffer
	*replica
}

// replica is one broker process's view: its own credential, API and
// keeper, sharing the store and the emulator.
type replica struct {
	cred *upstream.AdminCredential
	api  *newcentral.API
	up   *adminkey.Upstream
	k    *adminkey.Keeper
	reg  *prometheus.Registry
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func owned(n string) bool {
	if _, _, ok := lease.ParseUpstreamName(prefix, n); ok {
		return true
	}
	_, ok := upstream.ParseAdminKeyDescription(prefix, n)
	return ok
}

func setup(t *testing.T, opts ...emulator.Option) *bench {
	t.Helper()
	clock := workertest.NewClock()
	emu := emulatortest.Start(t, append([]emulator.Option{emulator.WithClock(clock.Now)}, opts...)...)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealer, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{clock: clock, emu: emu, store: pgstore.New(pgtest.NewPool(t)), sealer: sealer, logs: &syncBuffer{}}
	b.replica = b.newReplica(t, emu.AdminToken, nil)
	return b
}

// newReplica builds a keeper with secret configured; mod adjusts its
// upstream before the keeper is made.
func (b *bench) newReplica(t *testing.T, secret string, mod func(*adminkey.Upstream), onSync ...func(string, error)) *replica {
	t.Helper()
	r := &replica{cred: upstream.NewAdminCredential(secret), reg: prometheus.NewRegistry()}
	api, err := newcentral.NewAPI(newcentral.Config{
		BaseURL: b.emu.URL, HTTPClient: b.emu.HTTPClient(), Credential: r.cred,
		Upstream: upstream.Options{RateLimit: -1}, Now: b.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.api = api
	r.up = &adminkey.Upstream{
		Name: name, Kind: lease.UpstreamNewCentral, Credential: r.cred, API: api,
		Inspect: func(ctx context.Context, previous string) (upstream.AdminInfo, error) {
			return api.InspectAdmin(ctx, newcentral.AdminCheck{Accounts: []string{emulator.DefaultServiceAccount}, Owned: owned, Previous: previous})
		},
		Check:         api.CheckSecret,
		ExpiryMinimum: time.Hour,
		Rotate:        &adminkey.Rotate{Before: 72 * time.Hour, Lifetime: 30 * 24 * time.Hour, Grace: 2 * time.Minute},
	}
	if mod != nil {
		mod(r.up)
	}
	log := slog.New(slog.NewJSONHandler(io.MultiWriter(b.logs), nil))
	p := panics.New(log)
	cfg := adminkey.Config{
		Deps: worker.Deps{Store: b.store, Registry: upstream.NewRegistry(), Logger: log, Panics: p,
			Registerer: r.reg, Now: b.clock.Now},
		Upstreams: []*adminkey.Upstream{r.up}, Prefix: prefix, Sealer: b.sealer,
	}
	if len(onSync) > 0 {
		cfg.OnSync = onSync[0]
	}
	k, err := adminkey.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.k = k
	return r
}

func (r *replica) secret() string { s, _ := r.cred.Secret(); return s }

// keys returns the live keys on the emulator's account, by description.
func (b *bench) liveKeys() map[string][]emulator.KeyTruth {
	out := map[string][]emulator.KeyTruth{}
	for _, a := range b.emu.Tokens().ServiceAccounts {
		for _, k := range a.Keys {
			if k.Alive {
				out[k.Description] = append(out[k.Description], k)
			}
		}
	}
	return out
}

// adminKeys counts the live keys that are not a lease's: with one
// rotation at rest, exactly one.
func (b *bench) adminKeys() []emulator.KeyTruth {
	var out []emulator.KeyTruth
	for desc, ks := range b.liveKeys() {
		if _, _, ok := lease.ParseUpstreamName(prefix, desc); !ok {
			out = append(out, ks...)
		}
	}
	return out
}

func (b *bench) works(t *testing.T, secret string) bool {
	t.Helper()
	switch st := b.emu.TryNewCentralToken(context.Background(), "Bearer", secret); st {
	case http.StatusOK:
		return true
	case http.StatusUnauthorized:
		return false
	default:
		t.Fatalf("trying a key: status %d", st)
		return false
	}
}

func (b *bench) actions(t *testing.T) []string {
	t.Helper()
	res, err := b.store.ListAudit(t.Context(), store.ListAuditParams{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(res.Events) - 1; i >= 0; i-- {
		out = append(out, res.Events[i].Action)
	}
	return out
}

func wantErrText(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one with %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}
