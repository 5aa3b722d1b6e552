package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// buildBroker compiles cmd/broker into dir, so that the processes
// measured are the binary itself and not `go run`.
func buildBroker(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "broker")
	// By import path, so that it builds from anywhere in the module.
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/ztbroker/ztbroker/cmd/broker")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build cmd/broker: %w\n%s", err, out)
	}
	return bin, nil
}

// proc is a child process whose chosen stream is scanned for a ready
// line; everything it writes goes to a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error
}

// startProc runs bin with args and extra env. ready is called with each
// line of stdout (or stderr when onStderr) until it returns true; start
// returns once it has, or fails when the process exits or ctx ends.
func startProc(ctx context.Context, name, logPath, bin string, env []string, onStderr bool, ready func(string) bool, args ...string) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := &proc{name: name, cmd: exec.Command(bin, args...), log: logf, done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	if onStderr {
		p.cmd.Stderr, p.cmd.Stdout = pw, logf
	} else {
		p.cmd.Stdout, p.cmd.Stderr = pw, logf
	}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	seen := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			_, _ = logf.Write(append(sc.Bytes(), '\n'))
			if !found && ready(sc.Text()) {
				found = true
				close(seen)
				break
			}
		}
		// Keep draining, straight into the file, so the child never
		// blocks on a full pipe.
		_, _ = io.Copy(logf, pr)
	}()
	go func() {
		p.err = p.cmd.Wait()
		_ = pw.Close()
		close(p.done)
	}()
	select {
	case <-seen:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before it was ready (%v); see %s", name, p.err, logPath)
	case <-ctx.Done():
		p.kill()
		return nil, fmt.Errorf("%s: %w", name, ctx.Err())
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits up to grace before killing.
func (p *proc) stop(grace time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.kill()
		return fmt.Errorf("%s did not stop within %s", p.name, grace)
	}
	p.log.Close()
	return nil
}

func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
	p.log.Close()
}

// startEmulator runs `broker emulator` on a free port.
func startEmulator(ctx context.Context, bin, dir string) (*proc, *Target, error) {
	token := rand.Text()
	var url string
	p, err := startProc(ctx, "emulator", filepath.Join(dir, "emulator.log"), bin,
		[]string{emulator.AdminTokenEnv + "=" + token}, false,
		func(line string) bool {
			rest, ok := strings.CutPrefix(line, "emulator listening on ")
			url = strings.TrimSpace(rest)
			return ok
		}, "emulator", "--addr", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	return p, &Target{EmulatorURL: url, EmulatorAdminToken: token}, nil
}

// benchPurpose is the one purpose the broker under test serves.
const benchPurpose = "bench"

// configText is the broker's configuration: production defaults except
// that the client-side rate limit is lifted (the emulator is not
// ZeroTier, and a limiter would measure itself) and listeners take free
// ports.
const configText = `listen:
  grpc_addr: 127.0.0.1:0
  http_addr: 127.0.0.1:0
database:
  url_env: LOADGEN_DATABASE_URL
  max_conns: %[5]d
log:
  format: json
  level: info
upstreams:
  new_central:
    base_url: %[1]q
    admin_key_env: LOADGEN_UPSTREAM_KEY
    rate_limit: 1000000
purposes:
  - name: %[2]s
    description: Load generation.
    default_ttl: %[4]s
    max_ttl: 24h
    upstream: {kind: new_central, service_account_id: %[3]q}
    allow: {api_keys: [loadgen]}
auth:
  api_keys:
    - name: loadgen
      sha256: %[6]q
`

// brokerSetup is what starting a broker needs besides the binary.
type brokerSetup struct {
	dir        string
	dbURL      string
	defaultTTL time.Duration
	maxConns   int
	cpuProfile string   // passed as --cpuprofile when set
	env        []string // added to the broker's environment
}

// writeConfig writes the broker's config into dir and fills in the
// target's key and purpose. It returns the config path and environment.
func writeConfig(s brokerSetup, t *Target) (string, []string, error) {
	key := "ztb_loadgen_" + rand.Text()
	sum := sha256.Sum256([]byte(key))
	ttl := s.defaultTTL
	if ttl == 0 {
		ttl = 15 * time.Minute
	}
	conns := s.maxConns
	if conns == 0 {
		conns = 10
	}
	text := fmt.Sprintf(configText, t.EmulatorURL, benchPurpose, emulator.DefaultServiceAccount,
		ttl, conns, hex.EncodeToString(sum[:]))
	path := filepath.Join(s.dir, "broker.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return "", nil, err
	}
	t.APIKey, t.Purpose = key, benchPurpose
	env := []string{"LOADGEN_DATABASE_URL=" + s.dbURL, "LOADGEN_UPSTREAM_KEY=" + t.EmulatorAdminToken}
	return path, append(env, s.env...), nil
}

// startBroker runs `broker serve` and returns once /readyz answers 200,
// with how long that took from the exec.
func startBroker(ctx context.Context, bin string, s brokerSetup, t *Target, logName string) (*proc, time.Duration, error) {
	path, env, err := writeConfig(s, t)
	if err != nil {
		return nil, 0, err
	}
	args := []string{"serve", "--config", path}
	if s.cpuProfile != "" {
		args = append(args, "--cpuprofile", s.cpuProfile)
	}
	began := time.Now()
	p, err := startProc(ctx, "broker", filepath.Join(s.dir, logName), bin, env, true, func(line string) bool {
		var j struct {
			Msg  string `json:"msg"`
			GRPC string `json:"grpc"`
			HTTP string `json:"http"`
		}
		if json.Unmarshal([]byte(line), &j) != nil || j.Msg != "serving" {
			return false
		}
		t.GRPCAddr, t.HTTPAddr = j.GRPC, j.HTTP
		return true
	}, args...)
	if err != nil {
		return nil, 0, err
	}
	if err := awaitReady(ctx, p, "http://"+t.HTTPAddr+"/readyz"); err != nil {
		p.kill()
		return nil, 0, err
	}
	return p, time.Since(began), nil
}

func awaitReady(ctx context.Context, p *proc, url string) error {
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("broker exited before ready: %v", p.err)
		case <-ctx.Done():
			return errors.New("broker not ready within 60s")
		case <-time.After(5 * time.Millisecond):
		}
	}
}
