package clientcmd

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// healthServer serves the agent's /healthz and /readyz.
type healthServer struct {
	srv  *http.Server
	done chan error
}

// serveHealth listens on the --health-addr and says where on stderr, so
// that a port of 0 can be found.
func (a *agent) serveHealth() (*healthServer, error) {
	lis, err := net.Listen("tcp", a.plan.health)
	if err != nil {
		return nil, fmt.Errorf("--health-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := a.ready()
		if !ok {
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, why)
	})
	h := &healthServer{
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second},
		done: make(chan error, 1),
	}
	go func() { h.done <- h.srv.Serve(lis) }()
	fmt.Fprintf(a.stderr, "broker: agent: health on http://%s/healthz and /readyz\n", lis.Addr())
	return h, nil
}

func (h *healthServer) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = h.srv.Shutdown(ctx)
	// Serve ends with ErrServerClosed; the agent is ending either way.
	<-h.done
}
