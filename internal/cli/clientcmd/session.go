package clientcmd

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/cli/ciauth"
)

// session is one command's connection to the broker.
type session struct {
	cfg    connConfig
	conn   *grpc.ClientConn
	broker ztbrokerv1.TokenBrokerClient
	admin  ztbrokerv1.AdminServiceClient
}

// open connects lazily: no network I/O happens until the first call, which
// is where failures are retried.
func open(cfg connConfig, env Env) (*session, error) {
	creds, err := credentialSource(cfg, env)
	if err != nil {
		return nil, err
	}
	tc, err := transportCreds(cfg)
	if err != nil {
		return nil, err
	}
	iv := &invoker{creds: creds, clock: env.clock()}
	conn, err := grpc.NewClient(cfg.addr,
		grpc.WithTransportCredentials(tc),
		grpc.WithUserAgent("ztbroker-cli"),
		grpc.WithChainUnaryInterceptor(iv.intercept),
	)
	if err != nil {
		return nil, usagef("--addr %q: %v", cfg.addr, err)
	}
	return &session{
		cfg:    cfg,
		conn:   conn,
		broker: ztbrokerv1.NewTokenBrokerClient(conn),
		admin:  ztbrokerv1.NewAdminServiceClient(conn),
	}, nil
}

func (s *session) Close() error { return s.conn.Close() }

// deadline bounds a command's calls by --timeout.
func (s *session) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.timeout)
}

func credentialSource(cfg connConfig, env Env) (ciauth.Source, error) {
	switch {
	case cfg.apiKey != "":
		return ciauth.Static(cfg.apiKey), nil
	case cfg.oidc != "":
		src, err := ciauth.Parse(cfg.oidc, ciauth.Config{
			Audience:   cfg.audience,
			Getenv:     env.getenv,
			HTTPClient: env.httpClient(),
		})
		if err != nil {
			return nil, fmt.Errorf("--oidc: %w", err)
		}
		return src, nil
	}
	// Client certificates, or nothing: the broker decides.
	return nil, nil
}
