package agenttest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"

	"github.com/ztbroker/ztbroker/internal/cli/clientcmd"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/testing/brokertest"
)

// childScript is the agent's --exec command. It copies the token file
// into $D/seen.N each time it is told the token changed (SIGHUP), marks
// each start with started.PID, and records SIGTERM before exiting. It
// waits on a FIFO that nobody writes, in the background, because a trapped
// signal interrupts `wait` at once.
const childScript = `n=0
trap 'n=$((n+1)); cp "$D/token" "$D/seen.$n"' HUP
trap 'kill $bg 2>/dev/null; : > "$D/terminated.$$"; exit 0' TERM
env > "$D/environ.$$"
cp "$D/token" "$D/seen.start.$$"
: > "$D/started.$$"
while :; do cat "$D/gate" >/dev/null & bg=$!; wait $bg; done
`

type run struct {
	t       *testing.T
	b       *brokertest.Broker
	clock   *clockwork.FakeClock
	dir     string
	signals chan os.Signal
	stderr  *brokertest.SyncBuffer
	exit    chan int
}

func startAgent(t *testing.T, reload string) *run {
	t.Helper()
	clk := clockwork.NewFakeClockAt(time.Now().UTC().Truncate(time.Second))
	b := brokertest.Start(t, brokertest.WithClock(clk.Now))
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "gate"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Held open read-write, so the child's open of the FIFO never blocks.
	gate, err := os.OpenFile(filepath.Join(dir, "gate"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gate.Close() })
	tmpl := filepath.Join(dir, "conf.tmpl")
	if err := os.WriteFile(tmpl, []byte("base={{.APIBaseURL}}\nauth={{.AuthScheme}} {{.Token}}\nlease={{.LeaseID}}\nexp={{.Expires.Unix}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "child.sh")
	if err := os.WriteFile(script, []byte(childScript), 0o700); err != nil {
		t.Fatal(err)
	}
	r := &run{t: t, b: b, clock: clk, dir: dir, signals: make(chan os.Signal, 4), stderr: &brokertest.SyncBuffer{}, exit: make(chan int, 1)}
	vars := map[string]string{"BROKER_ADDR": b.GRPCAddr, "BROKER_API_KEY": b.APIKey}
	env := clientcmd.Env{
		Stdout:  io.Discard,
		Stderr:  r.stderr,
		Getenv:  func(k string) string { return vars[k] },
		Environ: func() []string { return []string{"PATH=/usr/bin:/bin", "D=" + dir, "BROKER_API_KEY=" + b.APIKey} },
		Signals: r.signals,
		Clock:   clk,
	}
	args := []string{
		"--purpose", brokertest.PurposeNC,
		"--sink", "file:" + filepath.Join(dir, "token"),
		"--sink", "env-file:" + filepath.Join(dir, "env"),
		"--template", tmpl + ":" + filepath.Join(dir, "conf"),
		"--health-addr", "127.0.0.1:0",
		"--exec", "/bin/sh " + script,
		"--exec-reload", reload,
		"--timeout", "20s",
	}
	go func() { r.exit <- clientcmd.Agent(context.Background(), args, env) }()
	t.Cleanup(func() {
		select {
		case r.signals <- syscall.SIGTERM:
		default:
		}
		select {
		case <-r.exit:
		case <-time.After(30 * time.Second):
			t.Error("the agent did not stop")
		}
		if t.Failed() {
			t.Logf("agent stderr:\n%s", r.stderr.String())
		}
	})
	return r
}

// eventually polls cond, failing the test after 30 seconds.
func (r *run) eventually(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("gave up waiting for %s", what)
		}
		<-tick.C
	}
}

func (r *run) read(name string) string {
	b, _ := os.ReadFile(filepath.Join(r.dir, name))
	return string(b)
}

func (r *run) glob(pattern string) []string {
	m, _ := filepath.Glob(filepath.Join(r.dir, pattern))
	return m
}

// advance moves fake time on and waits for the agent's token source to
// be waiting on its timer again.
func (r *run) advance(d time.Duration) {
	r.t.Helper()
	r.clock.Advance(d)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.clock.BlockUntilContext(ctx, 1); err != nil {
		r.t.Fatal("the agent's token source never went back to waiting")
	}
}

// caughtUp waits until the sinks show the lease the broker holds active,
// with its current expiry: the agent has written what its source last
// got, so moving time on cannot outrun it.
func (r *run) caughtUp() {
	r.t.Helper()
	r.eventually("the sinks to show the active lease", func() bool {
		res, err := r.b.Store.ListLeases(context.Background(), store.ListLeasesParams{
			Purpose: brokertest.PurposeNC, State: lease.StateActive, PageSize: 10})
		if err != nil || len(res.Leases) != 1 {
			return false
		}
		l := res.Leases[0]
		return strings.Contains(r.read("conf"), fmt.Sprintf("lease=%s\nexp=%d\n", l.ID, l.ExpireTime.Unix()))
	})
}

var healthRE = regexp.MustCompile(`health on (http://[0-9.:]+)/healthz`)

func (r *run) readyz() int {
	r.t.Helper()
	m := healthRE.FindStringSubmatch(r.stderr.String())
	if m == nil {
		r.t.Fatalf("the agent never said where its health endpoint is; stderr:\n%s", r.stderr.String())
	}
	resp, err := http.Get(m[1] + "/readyz")
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func parseEnvFile(t *testing.T, s string) map[string]string {
	t.Helper()
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			t.Fatalf("env file line %q is not NAME=value", sc.Text())
		}
		out[k] = v
	}
	return out
}

// TestAgentKeepsTheSinksAndTellsTheCommand runs the agent with every kind
// of sink and a command, moves fake time through renewals until the lease
// is replaced at its maximum, and stops the agent with SIGTERM.
func TestAgentKeepsTheSinksAndTellsTheCommand(t *testing.T) {
	t.Parallel()
	for _, reload := range []string{"SIGHUP", "restart"} {
		t.Run(reload, func(t *testing.T) {
			t.Parallel()
			r := startAgent(t, reload)
			ctx := context.Background()
			r.eventually("the command to start", func() bool { return len(r.glob("started.*")) == 1 })
			first := r.read("token")
			started := r.glob("seen.start.*")
			if len(started) != 1 || r.read(filepath.Base(started[0])) != first {
				t.Fatalf("the command did not find the token in the sink when it started")
			}

			// The command reads the token from the sinks; it inherits
			// neither the token nor the agent's own credential.
			for _, f := range r.glob("environ.*") {
				if e := r.read(filepath.Base(f)); strings.Contains(e, r.b.APIKey) || strings.Contains(e, first) || !strings.Contains(e, "D="+r.dir) {
					t.Errorf("the command's environment holds a credential, or lacks the agent's environment")
				}
			}

			// Contents and modes.
			if got := r.b.TryToken(ctx, "Bearer", first); got != http.StatusOK {
				t.Fatalf("the token in the file sink: emulator answered %d", got)
			}
			env := parseEnvFile(t, r.read("env"))
			if env["ZEROTIER_CENTRAL_TOKEN"] != first || env["ZEROTIER_AUTH_SCHEME"] != "Bearer" ||
				env["ZEROTIER_CENTRAL_URL"] != r.b.EmuURL || env["ZTBROKER_LEASE_ID"] == "" {
				t.Errorf("env file = %v", env)
			}
			leaseID := env["ZTBROKER_LEASE_ID"]
			wantConf := "base=" + r.b.EmuURL + "\nauth=Bearer " + first + "\nlease=" + leaseID + "\n"
			if diff := cmp.Diff(wantConf, r.read("conf")[:len(wantConf)]); diff != "" {
				t.Errorf("template sink (-want +got):\n%s", diff)
			}
			for _, name := range []string{"token", "env", "conf"} {
				fi, err := os.Stat(filepath.Join(r.dir, name))
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("sink %s: mode %v, err %v; want 0600", name, fi.Mode().Perm(), err)
				}
			}
			if code := r.readyz(); code != http.StatusOK {
				t.Errorf("readyz = %d with a valid token in the sinks", code)
			}

			// Renewals rewrite the sinks' lease but not the token and
			// leave the command alone; the replacement at the maximum
			// changes the token, and the command hears of it after the
			// sinks hold it.
			for r.read("token") == first {
				r.advance(30 * time.Second)
				r.caughtUp()
				if r.clock.Now().Sub(time.Now()) > 2*brokertest.MaxTTL {
					t.Fatal("the lease was never replaced")
				}
			}
			r.eventually("the sinks to settle on the new token", func() bool {
				return strings.Contains(r.read("conf"), r.read("token")) && parseEnvFile(t, r.read("env"))["ZEROTIER_CENTRAL_TOKEN"] == r.read("token")
			})
			second := r.read("token")
			if got := r.b.TryToken(ctx, "Bearer", second); got != http.StatusOK {
				t.Errorf("the new token: emulator answered %d", got)
			}
			if got := r.b.TryToken(ctx, "Bearer", first); got != http.StatusUnauthorized {
				t.Errorf("the replaced token: emulator answered %d, want 401", got)
			}
			if reload == "SIGHUP" {
				r.eventually("the command to get SIGHUP", func() bool { return r.read("seen.1") != "" })
				if r.read("seen.1") != second {
					t.Errorf("when SIGHUP came the token sink did not hold the new token")
				}
				if n := len(r.glob("seen.[0-9]*")); n != 1 {
					t.Errorf("the command got %d SIGHUPs for one token change (renewals must not signal)", n)
				}
			} else {
				r.eventually("the command to restart", func() bool { return len(r.glob("started.*")) == 2 })
				if n := len(r.glob("terminated.*")); n != 1 {
					t.Errorf("%d commands saw SIGTERM before the restart, want 1", n)
				}
				found := false
				for _, f := range r.glob("seen.start.*") {
					found = found || r.read(filepath.Base(f)) == second
				}
				if !found {
					t.Error("the restarted command did not find the new token in the sink")
				}
			}

			// SIGTERM: the command stops, the lease is revoked, the sinks go.
			lastID := parseEnvFile(t, r.read("env"))["ZTBROKER_LEASE_ID"]
			r.signals <- syscall.SIGTERM
			select {
			case code := <-r.exit:
				if code != 0 {
					t.Errorf("agent exited %d after SIGTERM, want 0", code)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the agent did not stop on SIGTERM")
			}
			r.exit <- 0 // for the cleanup
			if got := r.b.TryToken(ctx, "Bearer", second); got != http.StatusUnauthorized {
				t.Errorf("after SIGTERM the token still works (emulator answered %d)", got)
			}
			if n := len(r.b.LiveTokens()); n != 0 {
				t.Errorf("after SIGTERM the emulator has %d live tokens", n)
			}
			for _, name := range []string{"token", "env", "conf"} {
				if _, err := os.Stat(filepath.Join(r.dir, name)); !os.IsNotExist(err) {
					t.Errorf("sink %s still exists after the agent stopped", name)
				}
			}
			if n := len(r.glob("terminated.*")); n != len(r.glob("started.*")) {
				t.Errorf("%d commands started, %d saw SIGTERM", len(r.glob("started.*")), n)
			}
			for _, id := range []string{leaseID, lastID} {
				l, err := r.b.Store.GetLease(ctx, store.GetLeaseParams{ID: id})
				if err != nil || l.State != lease.StateRevoked {
					t.Errorf("lease %s is %v (%v), want revoked", id, l, err)
				}
			}
			r.b.CheckNoSecret(t, []string{first, second}, r.stderr.String())
		})
	}
}

// TestAgentIsReadyOnlyWithAValidToken stops the broker: the agent stays
// ready while the token in the sinks is unexpired, then says it is not;
// when the broker is back the sinks get a new token and it is ready again.
func TestAgentIsReadyOnlyWithAValidToken(t *testing.T) {
	t.Parallel()
	r := startAgent(t, "SIGHUP")
	r.eventually("the command to start", func() bool { return len(r.glob("started.*")) == 1 })
	first := r.read("token")
	if code := r.readyz(); code != http.StatusOK {
		t.Fatalf("readyz = %d with a fresh token", code)
	}
	if err := r.b.Stop(); err != nil {
		t.Fatal(err)
	}
	r.advance(4 * time.Minute) // of a 5-minute lease: still valid
	if code := r.readyz(); code != http.StatusOK {
		t.Errorf("readyz = %d while the sinks' token is still valid", code)
	}
	r.advance(90 * time.Second) // past its expiry
	if code := r.readyz(); code != http.StatusServiceUnavailable {
		t.Errorf("readyz = %d after the sinks' token expired, want 503", code)
	}
	if r.read("token") != first {
		t.Error("the sinks changed while the broker was down")
	}
	r.b.Restart(t)
	r.eventually("a new token once the broker is back", func() bool {
		r.advance(11 * time.Second)
		return r.read("token") != first && r.readyz() == http.StatusOK
	})
}
