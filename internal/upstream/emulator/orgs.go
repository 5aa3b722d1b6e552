package emulator

import (
	"fmt"
	"net/http"
	"regexp"
)

// orgName is an organisation's path segment.
var orgName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Organisations serves several emulated organisations on one listener:
// root at /, and each of others under /<name>, so that an upstream's base
// URL is the listener's URL plus /<name> (and /<name>/api/v1 for Legacy).
// Each is a Server of its own — keys, admin credential, service accounts,
// faults, counters — so nothing done on one is seen on another, as with
// two real ZeroTier organisations.
func Organisations(root *Server, others map[string]*Server) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle("/", root)
	for name, s := range others {
		if !orgName.MatchString(name) || name == "api" || name == "_emulator" {
			return nil, fmt.Errorf("emulator: organisation name %q: want [a-z0-9_-], not api or _emulator", name)
		}
		prefix := "/" + name
		mux.Handle(prefix+"/", http.StripPrefix(prefix, s))
	}
	return mux, nil
}
