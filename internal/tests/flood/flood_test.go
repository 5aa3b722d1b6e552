package flood

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
	"github.com/ztbroker/ztbroker/internal/testing/testproc"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// The broker runs with the default listen.limits; only what the floods
// need is set here.
const configText = `
listen:
  grpc_addr: 127.0.0.1:0
  http_addr: 127.0.0.1:0
%s
database:
  url_env: FLOOD_DATABASE_URL
  max_conns: 10
log:
  format: json
  level: info
upstreams:
  new_central:
    base_url: %q
    admin_key_env: FLOOD_UPSTREAM_KEY
    rate_limit: 10000
purposes:
  - name: flood
    upstream: {kind: new_central, service_account_id: %q}
    allow: {api_keys: [caller]}
auth:
  api_keys:
    - name: caller
      sha256: %q
`

// Load and flood sizes.
const (
	callers        = 4   // concurrent admitted callers
	cyclesPerPhase = 600 // issue-then-revoke cycles per phase, all callers together
	watchStreams   = 20_000
	watchConns     = 200 // connections the streams are spread over
	idleConns      = 1_000
	// A single-source flood tries more connections than max_connections
	// (1,024 by default), from its own loopback address, while newcomers
	// from another address probe whether they are still served.
	oneSourceConns = 2_000
	oneSource      = "127.0.0.2"
	probes         = 100
)

// perAddress bounds each remote address to 64 connections.
const perAddress = `  limits:
    max_connections_per_address: 64
`

// limitsOff sets listen.limits as loose as the broker was before them,
// for the same floods beside the defaults.
const limitsOff = `  limits:
    max_connections: 1000000
    max_concurrent_streams: 100000
    max_unauthenticated_streams: 1000000
    handshake_timeout: 2m
`

// BenchmarkUnauthenticatedFlood reports, for the same caller load, the
// broker's peak RSS and the callers' IssueToken p50/p99 with no flood,
// with 20,000 unauthenticated Watch streams held open, and with 1,000
// idle TCP connections kept open (reconnecting as the broker closes
// them) — each flood with the default listen.limits and with the limits
// off. Every phase gets a fresh broker process on the same database and
// emulator, so each starts from the same memory. Run it once:
// scripts/flood.sh.
func BenchmarkUnauthenticatedFlood(b *testing.B) {
	emu := testproc.StartEmulator(b)
	dsn := pgtest.NewDatabase(b)
	key := "ztb_flood_" + rand.Text()
	sum := sha256.Sum256([]byte(key))
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+key)

	type flood func(b *testing.B, brk *testproc.Proc) (stop func() string)
	phases := []struct {
		name   string
		listen string
		flood  flood
	}{
		{"no flood", "", nil},
		{fmt.Sprintf("%d Watch streams tried", watchStreams), "", holdWatchStreams},
		{fmt.Sprintf("%d Watch streams, limits off", watchStreams), limitsOff, holdWatchStreams},
		{fmt.Sprintf("%d idle TCP connections", idleConns), "", holdIdleConns},
		{fmt.Sprintf("%d idle TCP connections, limits off", idleConns), limitsOff, holdIdleConns},
		{fmt.Sprintf("%d idle from one address", oneSourceConns), "", holdOneSource},
		{fmt.Sprintf("%d idle from one address, per-address 64", oneSourceConns), perAddress, holdOneSource},
	}
	b.ResetTimer()
	for range b.N {
		report := fmt.Sprintf("\n%-40s %12s %8s %8s  %s\n", fmt.Sprintf("phase (%d cycles, %d callers)", cyclesPerPhase, callers),
			"peak RSS MB", "p50 ms", "p99 ms", "flood")
		for i, ph := range phases {
			path := filepath.Join(b.TempDir(), "broker.yaml")
			text := fmt.Sprintf(configText, ph.listen, emu.URL, emulator.DefaultServiceAccount, hex.EncodeToString(sum[:]))
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				b.Fatal(err)
			}
			brk := testproc.StartBroker(b, path, "FLOOD_DATABASE_URL="+dsn, "FLOOD_UPSTREAM_KEY="+emu.AdminToken)
			conn, err := grpc.NewClient(brk.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				b.Fatal(err)
			}
			api := ztbrokerv1.NewTokenBrokerClient(conn)
			runLoad(b, ctx, api, 50) // connections, pools, caches
			stop := func() string { return "" }
			if ph.flood != nil {
				stop = ph.flood(b, brk)
			}
			res := measure(b, brk.Pid(), func() []time.Duration { return runLoad(b, ctx, api, cyclesPerPhase) })
			what := stop()
			_ = conn.Close()
			brk.Kill()
			report += fmt.Sprintf("%-40s %12.1f %8.2f %8.2f  %s\n", ph.name, res.rssMB, res.p50ms, res.p99ms, what)
			b.ReportMetric(res.rssMB, fmt.Sprintf("rss-MB-phase%d", i))
			b.ReportMetric(res.p99ms, fmt.Sprintf("p99-ms-phase%d", i))
		}
		b.Log(report)
	}
}

type phase struct {
	rssMB, p50ms, p99ms float64
}

// measure runs load while sampling the broker's resident memory, and
// returns the peak beside the load's latency percentiles.
func measure(b *testing.B, pid int, load func() []time.Duration) phase {
	var peak atomic.Int64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if kb := rssKB(b, pid); kb > peak.Load() {
				peak.Store(kb)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	lat := load()
	close(done)
	<-sampled
	slices.Sort(lat)
	ms := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))]) / float64(time.Millisecond)
	}
	return phase{rssMB: float64(peak.Load()) / 1024, p50ms: ms(0.50), p99ms: ms(0.99)}
}

// rssKB reads VmRSS from /proc/<pid>/status.
func rssKB(b *testing.B, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb
		}
	}
	b.Fatal("no VmRSS in /proc status")
	return 0
}

// runLoad runs n issue-then-revoke cycles over the callers and returns
// each IssueToken's latency.
func runLoad(b *testing.B, ctx context.Context, api ztbrokerv1.TokenBrokerClient, n int) []time.Duration {
	var next atomic.Int64
	var mu sync.Mutex
	lat := make([]time.Duration, 0, n)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				start := time.Now()
				res, err := api.IssueToken(ctx, &ztbrokerv1.IssueTokenRequest{Purpose: "flood"})
				d := time.Since(start)
				if err != nil {
					b.Errorf("issue: %v", err)
					return
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
				if _, err := api.RevokeLease(ctx, &ztbrokerv1.RevokeLeaseRequest{Id: res.GetLease().GetId()}); err != nil {
					b.Errorf("revoke: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	return lat
}

// holdWatchStreams opens watchStreams health Watch streams without
// credentials, spread over watchConns connections, and holds those the
// broker accepts until stopped.
func holdWatchStreams(b *testing.B, brk *testproc.Proc) (stop func() string) {
	ctx, cancel := context.WithCancel(context.Background())
	var open, refused, failed atomic.Int64
	var wg sync.WaitGroup
	var conns []*grpc.ClientConn
	for range watchConns {
		c, err := grpc.NewClient(brk.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		hc := healthpb.NewHealthClient(c)
		for range watchStreams / watchConns {
			wg.Go(func() {
				st, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
				if err == nil {
					_, err = st.Recv()
				}
				switch {
				case status.Code(err) == codes.ResourceExhausted:
					refused.Add(1)
					return
				case err != nil:
					failed.Add(1)
					return
				}
				open.Add(1)
				for {
					if _, err := st.Recv(); err != nil {
						return
					}
				}
			})
		}
	}
	// Every stream has its answer before the callers start.
	for open.Load()+refused.Load()+failed.Load() < watchStreams {
		time.Sleep(10 * time.Millisecond)
	}
	return func() string {
		cancel()
		wg.Wait()
		for _, c := range conns {
			_ = c.Close()
		}
		return fmt.Sprintf("%d streams held, %d refused, %d failed", open.Load(), refused.Load(), failed.Load())
	}
}

// holdIdleConns keeps idleConns TCP connections open to the gRPC port
// without a byte sent, opening a new one whenever the broker closes one.
func holdIdleConns(b *testing.B, brk *testproc.Proc) (stop func() string) {
	return holdIdle(brk, idleConns, nil, nil)
}

// holdOneSource is holdIdleConns for oneSourceConns connections from
// oneSource, with a newcomer from the default loopback address dialling a
// fresh connection and asking for health every 50 ms: how many of them
// the broker serves is what a per-address bound is for.
func holdOneSource(b *testing.B, brk *testproc.Proc) (stop func() string) {
	ctx, cancel := context.WithCancel(context.Background())
	var served, tried atomic.Int64
	probing := make(chan struct{})
	stopFlood := holdIdle(brk, oneSourceConns, &net.TCPAddr{IP: net.ParseIP(oneSource)}, func() {
		go func() {
			defer close(probing)
			for range probes {
				if ctx.Err() != nil {
					return
				}
				tried.Add(1)
				// Not under ctx: a probe under way when the phase ends
				// must not count as refused.
				if probe(context.Background(), brk.GRPCAddr) {
					served.Add(1)
				}
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
		}()
	})
	return func() string {
		cancel()
		<-probing
		return fmt.Sprintf("%s; newcomers from another address served %d of %d", stopFlood(), served.Load(), tried.Load())
	}
}

// probe dials a new connection and asks for health, within a second.
func probe(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return false
	}
	defer conn.Close()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err == nil
}

// holdIdle keeps n idle connections open from local (any address when
// nil), reconnecting at once whenever the broker closes one, and calls
// started once every connection has been tried.
func holdIdle(brk *testproc.Proc, n int, local net.Addr, started func()) (stop func() string) {
	ctx, cancel := context.WithCancel(context.Background())
	var held, closed, dialled atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			d := net.Dialer{LocalAddr: local}
			first := true
			for ctx.Err() == nil {
				c, err := d.DialContext(ctx, "tcp", brk.GRPCAddr)
				if first {
					first = false
					dialled.Add(1)
				}
				if err != nil {
					// A connection refused as it opens (reset) is
					// tried again at once, as an attacker would.
					if ctx.Err() == nil {
						closed.Add(1)
					}
					continue
				}
				stopped := context.AfterFunc(ctx, func() { _ = c.Close() })
				// The broker speaks first (its HTTP/2 settings), so a
				// connection it serves is held once a byte arrives; one
				// it refuses is reset before. The connection says nothing
				// back until the broker closes it.
				served := false
				if _, err := c.Read(make([]byte, 1)); err == nil {
					served = true
					held.Add(1)
					_, _ = io.Copy(io.Discard, c)
				}
				stopped()
				_ = c.Close()
				if served {
					held.Add(-1)
				}
				if ctx.Err() == nil {
					closed.Add(1)
				}
			}
		})
	}
	for dialled.Load() < int64(n) {
		time.Sleep(10 * time.Millisecond)
	}
	if started != nil {
		started()
	}
	return func() string {
		peak := held.Load()
		cancel()
		wg.Wait()
		return fmt.Sprintf("%d connections held at the end, closed by the broker %d times", peak, closed.Load())
	}
}
