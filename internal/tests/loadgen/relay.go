package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/newcentral"
)

// The relay is the lease cycle with nothing of the broker in it: the same
// REST paths, the same upstream calls to the same emulator, three
// single-row commits per cycle as the broker's grouped writes make when
// alone, and an in-memory map where the broker keeps its recent leases.
// It uses the libraries the stack fixes (net/http server and client, pgx)
// and no gateway, auth, policy, audit, logging, metrics or tracing. Its
// CPU per cycle is therefore below what any broker built on this stack
// can spend on this machine, and the broker's CPU less the relay's is
// what the broker's own work costs.

const (
	relayKeyEnv = "LOADGEN_RELAY_UPSTREAM_KEY"
	// relayChildEnv marks the child, so that a test binary standing in
	// for this program runs the command instead of its tests.
	relayChildEnv = "LOADGEN_RELAY_CHILD"
)

// relayCmd is `loadgen relay`: cyclesCmd runs it as a child process so
// that its CPU is measured as the broker's is.
func relayCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("db-url", "", "database for the relay's table")
	upstreamURL := fs.String("upstream", "", "the emulator's base URL")
	profile := fs.String("cpuprofile", "", "write the relay's CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	pool, err := pgxpool.New(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS relay_leases (
		id text PRIMARY KEY, state text NOT NULL, upstream_id text, updated_at timestamptz NOT NULL)`); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	r := &relay{
		pool: pool, base: *upstreamURL, key: os.Getenv(relayKeyEnv),
		hc:     &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second},
		issued: map[string]string{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/purposes/{purpose}/tokens", r.issue)
	mux.HandleFunc("POST /v1/leases/{action}", r.revoke)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "relay listening on %s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type relay struct {
	pool *pgxpool.Pool
	base string
	key  string
	hc   *http.Client

	mu     sync.Mutex
	issued map[string]string // lease id → upstream key id
}

func (r *relay) issue(w http.ResponseWriter, req *http.Request) {
	ctx := req.Context()
	id := rand.Text()
	if _, err := r.pool.Exec(ctx, `INSERT INTO relay_leases (id, state, updated_at) VALUES ($1, 'pending', now())`, id); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	body, _ := json.Marshal(map[string]string{
		"expires": time.Now().Add(15 * time.Minute).UTC().Format(time.RFC3339), "description": "relay " + id,
	})
	path := strings.Replace(newcentral.DefaultCreateKeyPath, "{id}", emulator.DefaultServiceAccount, 1)
	var key struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	if err := r.call(ctx, http.MethodPost, path, body, &key); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if _, err := r.pool.Exec(ctx, `UPDATE relay_leases SET state = 'active', upstream_id = $2, updated_at = now() WHERE id = $1`, id, key.ID); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	r.mu.Lock()
	r.issued[id] = key.ID
	r.mu.Unlock()
	relayReply(w, map[string]any{"token": key.Key, "lease": map[string]string{"id": id, "state": "STATE_ACTIVE"}})
}

func (r *relay) revoke(w http.ResponseWriter, req *http.Request) {
	ctx := req.Context()
	id, ok := strings.CutSuffix(req.PathValue("action"), ":revoke")
	r.mu.Lock()
	keyID, known := r.issued[id]
	delete(r.issued, id)
	r.mu.Unlock()
	if !ok || !known {
		http.Error(w, "no such lease", http.StatusNotFound)
		return
	}
	path := strings.Replace(newcentral.DefaultDeleteKeyPath, "{id}", keyID, 1)
	if err := r.call(ctx, http.MethodDelete, path, nil, nil); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if _, err := r.pool.Exec(ctx, `UPDATE relay_leases SET state = 'revoked', updated_at = now() WHERE id = $1`, id); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	relayReply(w, map[string]any{"lease": map[string]string{"id": id, "state": "STATE_REVOKED"}})
}

func (r *relay) call(ctx context.Context, method, path string, body []byte, out any) error {
	return doJSON(ctx, r.hc, method, r.base+path, r.key, body, out)
}

func relayReply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// relayCycle is the rest scenario's client against the relay.
func relayCycle() Scenario {
	sc := restCycle()
	sc.Name = "relay"
	return sc
}

// startRelay runs this program's relay command beside the broker, on the
// same emulator, with its own database.
// env is the broker's extra environment, so that a setting such as
// GOMAXPROCS compares like with like.
func startRelay(ctx context.Context, dir, dbURL string, t *Target, env []string, profile string) (*proc, *Target, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	rt := *t
	p, err := startProc(ctx, "relay", filepath.Join(dir, "relay.log"), self,
		append([]string{relayKeyEnv + "=" + t.EmulatorAdminToken, relayChildEnv + "=1"}, env...), false,
		func(line string) bool {
			rest, ok := strings.CutPrefix(line, "relay listening on ")
			rt.HTTPAddr = strings.TrimSpace(rest)
			return ok
		}, "relay", "--db-url", dbURL, "--upstream", t.EmulatorURL, "--cpuprofile", profile)
	if err != nil {
		return nil, nil, err
	}
	rt.GRPCAddr = ""
	return p, &rt, nil
}
