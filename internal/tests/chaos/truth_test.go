package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// leaseRow is what the database says about one lease.
type leaseRow struct {
	ID, State, Upstream, TokenID, Name string
	Expire                             time.Time
	Attempts                           int
}

func (e *env) leases(ctx context.Context) (map[string]leaseRow, error) {
	rows, err := e.db().Query(ctx, `SELECT id, state, upstream, upstream_token_id, upstream_name,
		expire_time, revoke_attempts FROM leases`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]leaseRow{}
	for rows.Next() {
		var r leaseRow
		if err := rows.Scan(&r.ID, &r.State, &r.Upstream, &r.TokenID, &r.Name, &r.Expire, &r.Attempts); err != nil {
			return nil, err
		}
		out[r.ID] = r
	}
	return out, rows.Err()
}

// liveToken is an upstream token that would authenticate now.
type liveToken struct {
	Kind string
	// ID is the key id or the Legacy token name; Name the key description
	// or the Legacy token name, which the broker sets to its upstream name.
	ID, Name string
}

func (r leaseRow) String() string {
	return fmt.Sprintf("%s(%s %s attempts=%d expired %s)", r.ID, r.Upstream, r.State, r.Attempts, r.Expire.Format(time.RFC3339Nano))
}

func (t liveToken) String() string { return t.Kind + ":" + t.ID + "(" + t.Name + ")" }

// alive lists the live tokens named after leases; the admin credentials
// are counted apart (adminKeys).
func alive(g emulator.GroundTruth) []liveToken {
	var out []liveToken
	for _, a := range g.ServiceAccounts {
		for _, k := range a.Keys {
			if k.Alive && leaseNamed(k.Description) {
				out = append(out, liveToken{lease.UpstreamNewCentral, k.ID, k.Description})
			}
		}
	}
	for _, u := range g.LegacyUsers {
		for _, tk := range u.Tokens {
			if tk.Alive && leaseNamed(tk.Name) {
				out = append(out, liveToken{lease.UpstreamLegacy, tk.Name, tk.Name})
			}
		}
	}
	return out
}

// namePrefix is the broker's default token name prefix, which the chaos
// configs keep.
const namePrefix = "ztbroker"

func leaseNamed(name string) bool {
	_, _, ok := lease.ParseUpstreamName(namePrefix, name)
	return ok
}

// adminKeys lists the live New Central keys that are not a lease's: the
// admin key, and during a rotation its successor.
func adminKeys(g emulator.GroundTruth) []emulator.KeyTruth {
	var out []emulator.KeyTruth
	for _, a := range g.ServiceAccounts {
		for _, k := range a.Keys {
			if k.Alive && !leaseNamed(k.Description) {
				out = append(out, k)
			}
		}
	}
	return out
}

// audit compares ground truth with the leases. An orphan is a live token
// no active lease owns; an overdue token belongs to an active lease whose
// expiry passed more than lag ago.
type audit struct {
	Orphans, Overdue []liveToken
	// Unsettled lists leases still pending or revoking, or active past
	// their expiry.
	Unsettled []leaseRow
}

func (a audit) clean() bool {
	return len(a.Orphans) == 0 && len(a.Overdue) == 0 && len(a.Unsettled) == 0
}

func (a audit) String() string {
	return fmt.Sprintf("%d unsettled leases %v, orphans %v, overdue %v", len(a.Unsettled), a.Unsettled, a.Orphans, a.Overdue)
}

func compare(rows map[string]leaseRow, live []liveToken, now time.Time, lag time.Duration) audit {
	byToken := map[string]leaseRow{}
	for _, r := range rows {
		if r.TokenID != "" {
			byToken[r.Upstream+"/"+r.TokenID] = r
		}
		byToken[r.Upstream+"/name/"+r.Name] = r
	}
	var a audit
	for _, r := range rows {
		switch {
		case r.State == string(lease.StatePending), r.State == string(lease.StateRevoking),
			r.State == string(lease.StateActive) && !now.Before(r.Expire):
			a.Unsettled = append(a.Unsettled, r)
		}
	}
	for _, tk := range live {
		r, ok := byToken[tk.Kind+"/"+tk.ID]
		if !ok {
			r, ok = byToken[tk.Kind+"/name/"+tk.Name]
		}
		switch {
		case !ok || r.State != string(lease.StateActive):
			a.Orphans = append(a.Orphans, tk)
		case now.After(r.Expire.Add(lag)):
			a.Overdue = append(a.Overdue, tk)
		}
	}
	return a
}

// settle polls until the broker has finished with every lease and ground
// truth holds no token it should not, and returns the last audit.
func (e *env) settle(ctx context.Context, within, lag time.Duration) (audit, bool) {
	var last audit
	ok, why := poll(ctx, within, func(ctx context.Context) (bool, string) {
		rows, err := e.leases(ctx)
		if err != nil {
			return false, err.Error()
		}
		g, err := e.admin.Tokens(ctx)
		if err != nil {
			return false, err.Error()
		}
		last = compare(rows, alive(g), time.Now(), lag)
		return last.clean(), last.String()
	})
	if !ok {
		e.t.Logf("not settled: %s", why)
	}
	return last, ok
}
