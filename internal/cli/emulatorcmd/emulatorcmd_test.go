package emulatorcmd_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/ztbroker/ztbroker/internal/cli/emulatorcmd"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunServesUntilCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const admin = "run-admin-credential"
	pr, pw := io.Pipe()
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- emulatorcmd.Run(ctx, []string{
			"--addr", "127.0.0.1:0", "--admin-token", admin,
			"--service-account", "sa-1", "--service-account", "sa-2", "--legacy-user", "u-9",
			"--fault", emulator.RouteV2ListOrgs + "=status=503,times=1", "--delete-missing-status", "403",
			"--network", "8056c2e21c000001:ci,deadbeef00+,deadbeef01", "--network", "8056c2e21c000002",
		}, pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the ready line: %v (stderr %q)", err, stderr.String())
	}
	url := strings.TrimSpace(strings.TrimPrefix(line, "emulator listening on "))
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("ready line %q lacks the URL", line)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()

	c := &emulator.AdminClient{BaseURL: url, AdminToken: admin}
	truth, err := c.Tokens(ctx)
	if err != nil {
		t.Fatalf("Tokens: %v", err)
	}
	if len(truth.ServiceAccounts) != 2 || truth.ServiceAccounts[1].ID != "sa-2" || truth.LegacyUsers[0].ID != "u-9" {
		t.Errorf("seeded state = %+v", truth)
	}
	nets, err := c.Networks(ctx)
	if err != nil || len(nets) != 2 || nets[0].Name != "ci" || len(nets[0].Members) != 2 || !nets[0].Members[0].Authorized || nets[0].Members[1].Authorized {
		t.Errorf("Networks = %+v, %v", nets, err)
	}
	fs, err := c.Faults(ctx)
	if err != nil || fs.Faults[emulator.RouteV2ListOrgs].Status != 503 {
		t.Errorf("Faults = %+v, %v", fs, err)
	}

	cancel()
	if code := <-done; code != 0 {
		t.Errorf("Run = %d, want 0 (stderr %q)", code, stderr.String())
	}
	if strings.Contains(line+stderr.String(), admin) {
		t.Error("Run printed the admin credential")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
	}{
		{"no admin token", []string{"--addr", "127.0.0.1:0"}},
		{"bad delete status", []string{"--admin-token", "a", "--delete-missing-status", "500"}},
		{"bad fault", []string{"--admin-token", "a", "--fault", "v2.org.list"}},
		{"unknown fault route", []string{"--admin-token", "a", "--fault", "nope=status=500"}},
		{"unknown flag", []string{"--admin-token", "a", "--frobnicate"}},
		{"bad network", []string{"--admin-token", "a", "--network", "8056C2E21C000001"}},
		{"stray argument", []string{"--admin-token", "a", "extra"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut syncBuffer
			if code := emulatorcmd.Run(context.Background(), tt.args, &out, &errOut); code != 2 {
				t.Errorf("Run = %d, want 2 (stderr %q)", code, errOut.String())
			}
		})
	}
}
