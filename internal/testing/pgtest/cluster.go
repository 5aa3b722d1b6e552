package pgtest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Cluster is a private PostgreSQL server in a temporary directory. Stop and
// Start keep its port and data, so pools pointed at DSN reconnect after a
// restart.
type Cluster struct {
	bin  string
	run  runAs
	root string // temp dir: data/, sock/, server.log
	port int

	mu      sync.Mutex
	running bool
}

// StartCluster starts a dedicated cluster for one test and stops and
// deletes it at cleanup.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := newCluster()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.destroy(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// DSN is a URL for the cluster's postgres database as the superuser.
func (c *Cluster) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Stop shuts the server down (fast mode: open sessions are ended).
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return nil
	}
	if err := c.pgctl("stop", "-m", "fast"); err != nil {
		return err
	}
	c.running = false
	return nil
}

// Start starts a stopped server again on the same port and data.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return nil
	}
	err := c.pgctl("start", "-l", filepath.Join(c.root, "server.log"), "-o", "-p "+strconv.Itoa(c.port))
	if err != nil {
		return err
	}
	c.running = true
	return nil
}

func newCluster() (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	run, err := currentRunAs()
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "ztbroker-pg-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: temp dir: %w", err)
	}
	c := &Cluster{bin: bin, run: run, root: root}
	if err := c.init(); err != nil {
		_ = os.RemoveAll(root)
		return nil, err
	}
	// Another process may bind the port freePort found before the server
	// does; a fresh port is then tried a few times.
	for attempt := 1; ; attempt++ {
		if c.port, err = freePort(); err != nil {
			break
		}
		if err = c.Start(); err == nil || attempt == 3 || !strings.Contains(err.Error(), "already in use") {
			break
		}
	}
	if err != nil {
		_ = os.RemoveAll(root)
		return nil, err
	}
	return c, nil
}

func (c *Cluster) init() error {
	sock := filepath.Join(c.root, "sock")
	if err := os.Mkdir(sock, 0o700); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	for _, p := range []string{c.root, sock} {
		if err := os.Chown(p, c.run.uid, c.run.gid); err != nil {
			return fmt.Errorf("pgtest: hand %s to the server user: %w", p, err)
		}
	}
	data := filepath.Join(c.root, "data")
	// -N: a test cluster need not survive a machine crash, so skip fsync.
	if err := c.exec("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--locale=C", "-N"); err != nil {
		return err
	}
	// Durability settings are off because nothing here must survive a
	// crash; synchronous_commit stays on so commit semantics match
	// production.
	conf := fmt.Sprintf(`
listen_addresses = '127.0.0.1'
unix_socket_directories = '%s'
fsync = off
full_page_writes = off
max_connections = 200
shared_buffers = 32MB
log_min_messages = warning
`, sock)
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	_, werr := f.WriteString(conf)
	if err := f.Close(); werr == nil && err != nil {
		werr = err
	}
	if werr != nil {
		return fmt.Errorf("pgtest: write postgresql.conf: %w", werr)
	}
	return nil
}

func (c *Cluster) pgctl(args ...string) error {
	return c.exec("pg_ctl", append([]string{"-D", filepath.Join(c.root, "data"), "-w", "-s"}, args...)...)
}

func (c *Cluster) exec(name string, args ...string) error {
	cmd := c.run.command(filepath.Join(c.bin, name), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.root, "server.log"))
		return fmt.Errorf("pgtest: %s %s: %w\n%s\n%s", name, strings.Join(args, " "), err, out, log)
	}
	return nil
}

func (c *Cluster) destroy() error {
	err := c.Stop()
	if rerr := os.RemoveAll(c.root); err == nil && rerr != nil {
		err = fmt.Errorf("pgtest: remove %s: %w", c.root, rerr)
	}
	return err
}

// freePort asks the kernel for an unused loopback port. Another process
// could take it before the server binds; pg_ctl start then fails loudly
// rather than the test silently using someone else's server.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
