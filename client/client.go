package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/ztbroker/ztbroker/client/credential"
	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// Client is a connection to a broker. It is safe for concurrent use; make
// one per broker and share it.
type Client struct {
	conn    *grpc.ClientConn
	broker  ztbrokerv1.TokenBrokerClient
	clock   Clock
	log     *slog.Logger
	timeout time.Duration

	mu      sync.Mutex
	sources []*TokenSource
	closed  bool
}

// New returns a client of the broker at addr, a gRPC target such as
// "broker.example.com:443", "127.0.0.1:9090" or "unix:///run/ztbroker.sock".
//
// New does no network I/O: the connection is made at the first call, which
// is where failures are retried. It reads the TLS files it is given, to fail
// now on a bad one, and ctx bounds only that; it is not kept.
func New(ctx context.Context, addr string, opts ...Option) (*Client, error) {
	o := &options{audience: "ztbroker", timeout: DefaultTimeout, userAgent: "ztbroker-go"}
	for _, opt := range opts {
		opt(o)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch {
	case addr == "":
		return nil, errors.New("ztbroker client: the broker address is empty")
	case o.credCount > 1:
		return nil, errors.New("ztbroker client: give one credential: an API key, an API key file, OIDC or credentials")
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return nil, errors.New("ztbroker client: a client certificate needs its key, and a key its certificate")
	case o.insecure && (o.tlsCA != "" || o.tlsCert != "" || o.tlsConfig != nil):
		return nil, errors.New("ztbroker client: WithInsecure contradicts the TLS options")
	case o.timeout <= 0:
		return nil, errors.New("ztbroker client: the timeout must be positive")
	}
	if o.clock == nil {
		o.clock = realClock{}
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	creds, err := o.credentialSource()
	if err != nil {
		return nil, err
	}
	tc, err := transportCreds(o, addr)
	if err != nil {
		return nil, fmt.Errorf("ztbroker client: %w", err)
	}
	iv := &invoker{creds: creds, clock: o.clock}
	dial := append([]grpc.DialOption{
		grpc.WithTransportCredentials(tc),
		grpc.WithUserAgent(o.userAgent),
		grpc.WithChainUnaryInterceptor(iv.intercept),
	}, o.dial...)
	conn, err := grpc.NewClient(addr, dial...)
	if err != nil {
		return nil, fmt.Errorf("ztbroker client: address %q: %w", addr, err)
	}
	return &Client{
		conn:    conn,
		broker:  ztbrokerv1.NewTokenBrokerClient(conn),
		clock:   o.clock,
		log:     o.logger,
		timeout: o.timeout,
	}, nil
}

func (o *options) credentialSource() (credential.Source, error) {
	switch {
	case o.apiKey != "":
		return credential.Static(o.apiKey), nil
	case o.apiKeyFile != "":
		return credential.APIKeyFile{Path: o.apiKeyFile}, nil
	case o.oidcSpec != "":
		src, err := credential.Parse(o.oidcSpec, credential.Config{Audience: o.audience})
		if err != nil {
			return nil, fmt.Errorf("ztbroker client: OIDC: %w", err)
		}
		return src, nil
	}
	// A client certificate, explicit credentials, or nothing: the broker
	// decides.
	return o.creds, nil
}

// Conn is the client's connection, for calling any broker RPC through the
// generated stubs (package ztbrokerv1) with the client's credentials and
// retry rules, e.g. ztbrokerv1.NewAdminServiceClient(c.Conn()).
func (c *Client) Conn() grpc.ClientConnInterface { return c.conn }

// Close closes every TokenSource the client made, revoking their leases,
// and then the connection. It returns the sources' revocation failures.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	sources := c.sources
	c.sources = nil
	c.mu.Unlock()
	var errs []error
	for _, s := range sources {
		errs = append(errs, s.Close())
	}
	errs = append(errs, c.conn.Close())
	return errors.Join(errs...)
}

// bound gives ctx the client's timeout when it has no deadline of its own.
func (c *Client) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.timeout)
}
