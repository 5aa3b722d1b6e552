package exectest

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// TestExecRevokesThroughABrokerRestart stops the broker while exec's
// command runs and lets the command end during the outage, so exec's
// revocation fails against a port that answers no HTTP/2. A new broker on
// the same ports and database must then receive the retried revocation.
func TestExecRevokesThroughABrokerRestart(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := newChild(t)
	r := startExec(t, b, b.grpcAddr, c, purposeCI, `read _ < "$d/gate"; exit 0`)
	g := r.waitReady(t, c)
	b.checkLive(t, g.scheme, g.token)

	grpcAddr, httpAddr := b.grpcAddr, b.httpAddr
	b.stop()
	// Hold the port while the broker is down: exec's attempts are counted
	// and cut, the way a restarting broker's port would refuse them.
	down := holdPort(t, grpcAddr)
	c.release(t)
	eventually(t, "exec to try the stopped broker", func() bool { return down.attempts.Load() > 0 })
	if r.finished() {
		t.Fatalf("exec returned %d while the broker was down; stderr:\n%s", r.code, r.stderr.String())
	}
	down.close()
	b.start(grpcAddr, httpAddr)

	if code := r.wait(t); code != 0 {
		t.Errorf("exec returned %d, want 0; stderr:\n%s", code, r.stderr.String())
	}
	if s := r.stderr.String(); s != "" {
		t.Errorf("exec reported a failure:\n%s", s)
	}
	b.checkEnded(t, g.scheme, g.token, g.leaseID, "exec: command exited with status 0", r.stdout.String(), r.stderr.String())
}

// portHolder accepts connections on a port and closes them at once.
type portHolder struct {
	lis      net.Listener
	attempts atomic.Int64
	wg       sync.WaitGroup
	once     sync.Once
}

func holdPort(t *testing.T, addr string) *portHolder {
	t.Helper()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("hold the stopped broker's port %s: %v", addr, err)
	}
	h := &portHolder{lis: lis}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			conn, err := lis.Accept()
			if err != nil {
				return
			}
			h.attempts.Add(1)
			_ = conn.Close()
		}
	}()
	t.Cleanup(h.close)
	return h
}

// close frees the port for the broker's successor.
func (h *portHolder) close() {
	h.once.Do(func() {
		_ = h.lis.Close()
		h.wg.Wait()
	})
}
