package proxy

import (
	"strings"

	"github.com/ztbroker/ztbroker/internal/scope"
)

// PathPrefix starts every proxied request target: /zt/<purpose>/api/...
const PathPrefix = "/zt/"

// BaseURL is where a proxy lease's holder points its client: the same
// root it would use on Central, so that paths are unchanged. For Legacy
// that root ends in /api/v1, as Legacy base URLs do.
func BaseURL(publicURL, purpose string, api scope.API) string {
	u := strings.TrimRight(publicURL, "/") + PathPrefix + purpose
	if api == scope.APIv1 {
		u += "/api/v1"
	}
	return u
}

// IsProxyTarget reports whether a raw request target belongs to the proxy.
// The server routes on the raw target, before any cleaning, so that a
// target the proxy would refuse is never quietly normalised into one it
// accepts.
func IsProxyTarget(requestURI string) bool { return strings.HasPrefix(requestURI, PathPrefix) }

// splitTarget takes /zt/<purpose><target> apart.
func splitTarget(requestURI string) (purpose, target string, ok bool) {
	rest, ok := strings.CutPrefix(requestURI, PathPrefix)
	if !ok {
		return "", "", false
	}
	i := strings.IndexAny(rest, "/?")
	if i <= 0 || rest[i] != '/' {
		return "", "", false
	}
	return rest[:i], rest[i:], true
}

// printableName reports whether a purpose name from a request may be shown
// back: purpose names are [a-z0-9-].
func printableName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
