package tlsreload

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
)

// Client certificate modes, as in the config file.
const (
	ClientAuthNone    = "none"
	ClientAuthRequest = "request"
	ClientAuthRequire = "require"
)

// Config says which files to serve.
type Config struct {
	CertFile, KeyFile string
	// ClientCAFile is required unless ClientAuth is none.
	ClientCAFile string
	// ClientAuth is none (default), request (verify a certificate if one
	// is sent) or require.
	ClientAuth string
	// NextProtos defaults to h2 and http/1.1, which gRPC and the REST
	// gateway need.
	NextProtos []string
	// Logger receives reload outcomes; nil discards them.
	Logger *slog.Logger
}

// Reloader holds the current TLS material.
type Reloader struct {
	cfg      Config
	authType tls.ClientAuthType
	log      *slog.Logger

	current atomic.Pointer[tls.Config]
	// mu serialises reloads; seen is the file state last loaded or last
	// found broken, so a bad rotation is not re-parsed on every handshake.
	mu   sync.Mutex
	seen fileState
}

// New loads the files once; they must be valid.
func New(cfg Config) (*Reloader, error) {
	r := &Reloader{cfg: cfg, log: cfg.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if len(r.cfg.NextProtos) == 0 {
		r.cfg.NextProtos = []string{"h2", "http/1.1"}
	}
	switch cfg.ClientAuth {
	case "", ClientAuthNone:
		r.authType = tls.NoClientCert
	case ClientAuthRequest:
		r.authType = tls.VerifyClientCertIfGiven
	case ClientAuthRequire:
		r.authType = tls.RequireAndVerifyClientCert
	default:
		return nil, fmt.Errorf("tls: unknown client auth mode %q", cfg.ClientAuth)
	}
	if r.authType != tls.NoClientCert && cfg.ClientCAFile == "" {
		return nil, errors.New("tls: a client CA file is required to verify client certificates")
	}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// TLSConfig returns a server config that picks up reloaded material on
// each handshake. Give it to the listeners as is.
func (r *Reloader) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: r.cfg.NextProtos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			r.reloadIfChanged()
			return r.current.Load(), nil
		},
	}
}

// Reload reads the files now. On error the previous material stays in
// use.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.loadLocked(r.stat())
}

func (r *Reloader) reloadIfChanged() {
	st := r.stat()
	r.mu.Lock()
	defer r.mu.Unlock()
	if st == r.seen {
		return
	}
	if err := r.loadLocked(st); err != nil {
		r.log.Error("tls reload failed; still serving the previous certificate", "error", err)
		return
	}
	r.log.Info("tls material reloaded", "cert_file", r.cfg.CertFile)
}

func (r *Reloader) loadLocked(st fileState) error {
	r.seen = st
	cert, err := tls.LoadX509KeyPair(r.cfg.CertFile, r.cfg.KeyFile)
	if err != nil {
		// LoadX509KeyPair's errors name the problem, never key bytes.
		return fmt.Errorf("tls: loading %s and %s: %w", r.cfg.CertFile, r.cfg.KeyFile, err)
	}
	c := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		NextProtos:   r.cfg.NextProtos,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   r.authType,
	}
	if r.cfg.ClientCAFile != "" {
		pem, err := os.ReadFile(r.cfg.ClientCAFile)
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("tls: %s holds no PEM certificates", r.cfg.ClientCAFile)
		}
		c.ClientCAs = pool
	}
	r.current.Store(c)
	return nil
}

// fileState is what a handshake compares to decide whether to reload.
type fileState [3]fileStamp

type fileStamp struct {
	modNanos int64
	size     int64
	ok       bool
}

func (r *Reloader) stat() fileState {
	var st fileState
	for i, name := range []string{r.cfg.CertFile, r.cfg.KeyFile, r.cfg.ClientCAFile} {
		if name == "" {
			continue
		}
		if fi, err := os.Stat(name); err == nil {
			st[i] = fileStamp{modNanos: fi.ModTime().UnixNano(), size: fi.Size(), ok: true}
		}
	}
	return st
}
