package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/ztbroker/ztbroker/internal/broker"
	"github.com/ztbroker/ztbroker/internal/worker/adminkey"
)

// fanOut hands each SIGHUP to both the TLS reloader and the credential
// keeper: one signal channel cannot serve two readers.
func fanOut(ctx context.Context, in <-chan os.Signal, closers *closers) (tls, creds <-chan os.Signal) {
	if in == nil {
		return nil, nil
	}
	t, c := make(chan os.Signal, 1), make(chan os.Signal, 1)
	done := make(chan struct{})
	closers.push(func() error { close(done); return nil })
	go func() {
		defer close(c)
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case sig := <-in:
				for _, out := range []chan os.Signal{t, c} {
					select {
					case out <- sig:
					default: // a reload is already pending
					}
				}
			}
		}
	}()
	return t, c
}

// reloadCredentials re-reads the credential files on each SIGHUP; the
// keeper also notices a changed file by itself.
func reloadCredentials(sig <-chan os.Signal, k *adminkey.Keeper, log *slog.Logger) {
	for range sig {
		log.Info("SIGHUP: re-reading upstream credential files")
		k.Reload()
	}
}

// readyDetail reports each upstream's admin credential for /readyz: a line
// per credential inside its warning margin, and not ready once one has
// expired (nothing can be minted or revoked with it).
func readyDetail(k *adminkey.Keeper) func() (lines []string, ok bool) {
	return func() ([]string, bool) {
		ok := true
		var lines []string
		for _, st := range k.Status() {
			if st.Warning != "" {
				lines = append(lines, fmt.Sprintf("upstream %s: %s", st.Upstream, st.Warning))
			}
			if st.LastError != "" {
				lines = append(lines, fmt.Sprintf("upstream %s: credential upkeep failing: %s", st.Upstream, oneLine(st.LastError)))
			}
			if st.Expired {
				ok = false
			}
		}
		return lines, ok
	}
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

// credentialStatus adapts the keeper's status for ListUpstreams.
func credentialStatus(k *adminkey.Keeper) func() []broker.CredentialStatus {
	return func() []broker.CredentialStatus {
		var out []broker.CredentialStatus
		for _, st := range k.Status() {
			out = append(out, broker.CredentialStatus{
				Upstream: st.Upstream, Kind: st.Kind, KeyID: st.KeyID, Account: st.Account, Source: st.Source,
				Warning: st.Warning, Expires: st.Expires,
			})
		}
		return out
	}
}
