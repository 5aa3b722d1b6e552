package clientcmd

import (
	"context"
	"fmt"

	"log/slog"

	"github.com/ztbroker/ztbroker/client"
	"github.com/ztbroker/ztbroker/client/credential"
	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// session is one command's connection to the broker, made by the public
// Go client so that the command line and Go programs share one set of
// transport defaults, credential sources and retry rules.
type session struct {
	cfg    connConfig
	client *client.Client
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
	opts := clientOptions(cfg, env)
	if creds != nil {
		opts = append(opts, client.WithCredentials(creds))
	}
	c, err := client.New(context.Background(), cfg.addr, opts...)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return &session{
		cfg:    cfg,
		client: c,
		broker: ztbrokerv1.NewTokenBrokerClient(c.Conn()),
		admin:  ztbrokerv1.NewAdminServiceClient(c.Conn()),
	}, nil
}

// clientOptions are the client options the connection flags stand for,
// but the credential, which open resolves first so that a bad --oidc is
// reported as such.
func clientOptions(cfg connConfig, env Env) []client.Option {
	opts := []client.Option{
		client.WithClock(env.clock()),
		client.WithTimeout(cfg.timeout),
		client.WithUserAgent("ztbroker-cli"),
		// Commands report to stderr themselves.
		client.WithLogger(slog.New(slog.DiscardHandler)),
	}
	if cfg.tlsCA != "" {
		opts = append(opts, client.WithTLSCA(cfg.tlsCA))
	}
	if cfg.tlsCert != "" {
		opts = append(opts, client.WithMTLS(cfg.tlsCert, cfg.tlsKey))
	}
	if cfg.insecure {
		opts = append(opts, client.WithInsecure())
	}
	return opts
}

func (s *session) Close() error { return s.client.Close() }

// deadline bounds a command's calls by --timeout.
func (s *session) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.timeout)
}

func credentialSource(cfg connConfig, env Env) (credential.Source, error) {
	switch {
	case cfg.apiKey != "":
		return credential.Static(cfg.apiKey), nil
	case cfg.oidc != "":
		src, err := credential.Parse(cfg.oidc, credential.Config{
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
