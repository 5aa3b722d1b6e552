package testproc

import (
	"context"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestServingLine(t *testing.T) {
	t.Parallel()
	type result struct {
		GRPC, HTTP string
		OK         bool
	}
	tests := []struct {
		name string
		line string
		want result
	}{
		{"json", `{"time":"x","level":"INFO","msg":"serving","grpc":"127.0.0.1:1","http":"127.0.0.1:2"}`,
			result{"127.0.0.1:1", "127.0.0.1:2", true}},
		{"text", `time=x level=INFO msg=serving grpc=127.0.0.1:1 http=127.0.0.1:2`,
			result{"127.0.0.1:1", "127.0.0.1:2", true}},
		{"other json message", `{"msg":"database ready","grpc":"a","http":"b"}`, result{"a", "b", false}},
		{"json without addresses", `{"msg":"serving"}`, result{}},
		{"text without addresses", `msg=serving`, result{}},
		{"noise", `panic: something`, result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g, h, ok := servingLine([]byte(tt.line))
			if diff := cmp.Diff(tt.want, result{g, h, ok}); diff != "" {
				t.Errorf("servingLine(%q) (-want +got):\n%s", tt.line, diff)
			}
		})
	}
}

func TestOutputKeepsTailAndStopsWatching(t *testing.T) {
	t.Parallel()
	var seen []string
	o := output{watch: func(line []byte) bool {
		seen = append(seen, string(line))
		return string(line) == "ready"
	}}
	for _, chunk := range []string{"one\ntw", "o\nready\nafter\n"} {
		if _, err := o.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"one", "two", "ready"}, seen); diff != "" {
		t.Errorf("lines watched (-want +got):\n%s", diff)
	}
	if got, want := o.String(), "one\ntwo\nready\nafter\n"; got != want {
		t.Errorf("tail = %q, want %q", got, want)
	}
}

func TestEmulatorLifecycle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		stop     func(*Proc)
		wantCode int
	}{
		{"SIGTERM stops cleanly", func(p *Proc) {
			if err := p.Signal(syscall.SIGTERM); err != nil {
				t.Error(err)
			}
		}, 0},
		{"SIGKILL", (*Proc).Kill, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := StartEmulator(t)
			hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
			t.Cleanup(hc.CloseIdleConnections)
			ctx := t.Context()
			if _, err := p.Admin(hc).Tokens(ctx); err != nil {
				t.Fatalf("admin API of a started emulator: %v", err)
			}
			bad := p.Admin(hc)
			bad.AdminToken = "wrong"
			if _, err := bad.Tokens(context.WithoutCancel(ctx)); err == nil {
				t.Error("admin API accepted a wrong token")
			}
			tt.stop(p)
			if got := p.Wait(); got != tt.wantCode {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", got, tt.wantCode, p.Stderr())
			}
		})
	}
}
