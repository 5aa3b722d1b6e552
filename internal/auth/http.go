package auth

import (
	"crypto/x509"
	"log/slog"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/ztbroker/ztbroker/internal/httperr"
)

// DefaultExemptPaths are the HTTP paths served without authentication.
func DefaultExemptPaths() []string { return []string{"/metrics", "/openapi.json", "/healthz"} }

// HTTPOptions configure the HTTP middleware.
type HTTPOptions struct {
	// ExemptPaths skip authentication. An entry matches that exact path;
	// an entry ending in "/" matches everything below it. Nil means
	// DefaultExemptPaths; an empty non-nil slice exempts nothing.
	ExemptPaths []string
	// Logger receives the real reason for each rejection at debug level;
	// OnFailure counts them. Either may be nil.
	Logger    *slog.Logger
	OnFailure func(reason FailureReason)
}

// Middleware authenticates each request not exempted and puts the Identity
// in its context. Failures answer 401 (or 503 when an issuer is
// unreachable) with a body shaped like a grpc-gateway error.
func Middleware(a Authenticator, o HTTPOptions) func(http.Handler) http.Handler {
	exempt := o.ExemptPaths
	if exempt == nil {
		exempt = DefaultExemptPaths()
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if pathExempt(exempt, r.URL.Path) {
				next.ServeHTTP(w, r)
				return
			}
			bearer, err := bearerFrom(r.Header.Values("Authorization"))
			if err == nil {
				var id *Identity
				id, err = a.Authenticate(r.Context(), Credentials{Bearer: bearer, PeerCertificates: requestChain(r)})
				if err == nil {
					ctx := WithPeerAddr(WithIdentity(r.Context(), id), hostOf(r.RemoteAddr))
					next.ServeHTTP(w, r.WithContext(ctx))
					return
				}
			}
			reason := failureOf(err)
			log.LogAttrs(r.Context(), slog.LevelDebug, "authentication failed",
				slog.String("path", r.URL.Path), slog.String("reason", string(reason)), slog.String("error", err.Error()))
			if o.OnFailure != nil {
				o.OnFailure(reason)
			}
			// A rejection depends on the credential presented, so no cache
			// may replay it to the next caller.
			w.Header().Set("Cache-Control", "no-store")
			if unavailable(err) {
				httperr.Write(w, http.StatusServiceUnavailable, codes.Unavailable, msgUnavailable)
				return
			}
			w.Header().Set("WWW-Authenticate", "Bearer")
			httperr.Write(w, http.StatusUnauthorized, codes.Unauthenticated, msgUnauthenticated)
		})
	}
}

func pathExempt(exempt []string, path string) bool {
	for _, p := range exempt {
		if path == p || (strings.HasSuffix(p, "/") && strings.HasPrefix(path, p)) {
			return true
		}
	}
	return false
}

func requestChain(r *http.Request) []*x509.Certificate {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		return nil
	}
	return r.TLS.VerifiedChains[0]
}
