package adminkey

import (
	"fmt"
	"time"

	"github.com/ztbroker/ztbroker/internal/upstream"
)

// Status is what is known of one upstream's admin credential now.
type Status struct {
	Upstream string
	Kind     string
	upstream.AdminInfo
	// Left is the time until Expires; zero when there is no expiry.
	Left time.Duration
	// Warning says the key is inside its warning margin or expired.
	Warning string
	// Expired is set once Expires has passed: nothing minted or revoked
	// with it can work.
	Expired bool
	// LastError is the last sync's failure, empty when it succeeded.
	LastError string
}

// Status reports every upstream's credential, in configuration order.
func (k *Keeper) Status() []Status {
	now := k.cfg.Now()
	out := make([]Status, 0, len(k.ups))
	for _, m := range k.ups {
		info := m.u.Credential.Info()
		st := Status{Upstream: m.u.Name, Kind: m.u.Kind, AdminInfo: info}
		m.mu.Lock()
		if m.lastErr != nil {
			st.LastError = m.lastErr.Error()
		}
		m.mu.Unlock()
		if !info.Expires.IsZero() {
			st.Left = info.Expires.Sub(now)
			switch {
			case st.Left <= 0:
				st.Expired = true
				st.Warning = fmt.Sprintf("admin key %s expired at %s", keyName(info.KeyID), info.Expires.UTC().Format(time.RFC3339))
			case st.Left < m.u.ExpiryWarning:
				st.Warning = fmt.Sprintf("admin key %s expires in %s, inside the %s warning margin",
					keyName(info.KeyID), st.Left.Round(time.Minute), m.u.ExpiryWarning)
			}
		}
		out = append(out, st)
	}
	return out
}
