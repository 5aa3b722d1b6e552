package client

import (
	"crypto/tls"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	"github.com/ztbroker/ztbroker/client/credential"
)

// DefaultTimeout bounds a call whose context has no deadline, retries
// included.
const DefaultTimeout = 30 * time.Second

// Option configures a Client.
type Option func(*options)

type options struct {
	apiKey, apiKeyFile string
	oidcSpec, audience string
	creds              credential.Source
	credCount          int

	tlsCA, tlsCert, tlsKey string
	tlsConfig              *tls.Config
	insecure               bool

	timeout   time.Duration
	logger    *slog.Logger
	clock     Clock
	userAgent string
	dial      []grpc.DialOption
}

// WithAPIKey authenticates with a broker API key.
func WithAPIKey(key string) Option {
	return func(o *options) { o.apiKey = key; o.credCount++ }
}

// WithAPIKeyFile authenticates with the API key in a file, re-read on every
// call so that a rotated key is picked up without a restart.
func WithAPIKeyFile(path string) Option {
	return func(o *options) { o.apiKeyFile = path; o.credCount++ }
}

// WithOIDC authenticates with a workload identity token from spec, in the
// broker command line's --oidc syntax: "github" (the GitHub Actions ID
// token; the job needs `permissions: id-token: write`), "env:VAR" (GitLab
// CI id_tokens) or "file:PATH" (a Kubernetes projected service-account
// token). See package credential.
func WithOIDC(spec string) Option {
	return func(o *options) { o.oidcSpec = spec; o.credCount++ }
}

// WithOIDCAudience is the audience WithOIDC("github") asks GitHub for; it
// must match the broker's configured audience. The default is "ztbroker".
func WithOIDCAudience(aud string) Option { return func(o *options) { o.audience = aud } }

// WithCredentials authenticates with any credential.Source, for example
// credential.File, credential.EnvVar or a *credential.GitHubActions.
func WithCredentials(src credential.Source) Option {
	return func(o *options) { o.creds = src; o.credCount++ }
}

// WithTLSCA trusts the PEM CA certificates in file for the broker's
// certificate instead of the system roots.
func WithTLSCA(file string) Option { return func(o *options) { o.tlsCA = file } }

// WithMTLS presents the client certificate and key in the PEM files. Both
// are re-read on every handshake, so short-lived certificates that an agent
// rewrites in place keep working.
func WithMTLS(certFile, keyFile string) Option {
	return func(o *options) { o.tlsCert, o.tlsKey = certFile, keyFile }
}

// WithTLSConfig uses c for the connection, instead of a configuration built
// from WithTLSCA and WithMTLS.
func WithTLSConfig(c *tls.Config) Option { return func(o *options) { o.tlsConfig = c } }

// WithInsecure speaks plaintext even to a non-loopback address. Without
// it, loopback and unix: addresses are reached in plaintext and every other
// address over TLS with the system roots, so a credential never crosses a
// network unencrypted by accident.
func WithInsecure() Option { return func(o *options) { o.insecure = true } }

// WithTimeout bounds each call whose context has no deadline, retries
// included, and each call a TokenSource makes in the background. The
// default is DefaultTimeout.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithLogger is where token sources report renewals, hand-overs and
// failures; the default is slog.Default(). Tokens are never logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock replaces the real clock, for tests that drive time by hand.
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithUserAgent sets the gRPC user agent; the default is "ztbroker-go".
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }

// WithDialOptions adds gRPC dial options, for example a custom dialer.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dial = append(o.dial, opts...) }
}
