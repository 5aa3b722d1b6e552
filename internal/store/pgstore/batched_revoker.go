package pgstore

import (
	"context"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

// The revoker's writes, grouped like the lease cycle's (batched.go): at
// an expiry storm its concurrent deletes each end in a completion, and
// each claimed expired lease first gets its expired_without_revoke note.

var sqlCompleteRevokeBatch = `WITH u AS (
	SELECT * FROM unnest($2::text[], $3::timestamptz[]) WITH ORDINALITY AS u(id, now, k)
), upd AS (
	UPDATE leases l SET state = 'revoked', revoke_time = COALESCE(l.revoke_time, u.now),
		next_attempt_at = NULL, updated_at = u.now
	FROM u
	WHERE l.id = u.id AND l.state IN ('revoking', 'revoke_failed')
	RETURNING u.k, ` + leaseColsOf("l") + `
), ` + auditBatchCTE + `
SELECT k, ` + leaseCols + ` FROM upd`

func (s *Store) completeRevokeBatch(ctx context.Context, calls []*call[store.CompleteRevokeParams, *lease.Lease]) {
	ids, nows := make([]string, len(calls)), make([]time.Time, len(calls))
	for i, c := range calls {
		ids[i], nows[i] = c.in.ID, c.in.Now
	}
	audit, err := batchAudit(len(calls), func(i int) ([]*store.AuditEvent, []time.Time) {
		return []*store.AuditEvent{calls[i].in.Audit}, []time.Time{calls[i].in.Now}
	})
	if err == nil {
		err = runBatch(ctx, s.pool, calls, sqlCompleteRevokeBatch, audit, ids, nows)
	}
	if err != nil {
		settle(ctx, calls, err, s.completeRevokeOne)
	}
}

// appendAuditBatch appends many callers' events with AppendAudits, one
// statement, in call order.
func (s *Store) appendAuditBatch(ctx context.Context, calls []*call[*store.AuditEvent, int64]) {
	// AppendAudits sets the events' ids; they are the callers' events, so
	// their ids are set here too, and handed back as results.
	events := make([]*store.AuditEvent, len(calls))
	for i, c := range calls {
		e := *c.in
		events[i] = &e
	}
	if err := s.appendAudits(ctx, events); err != nil {
		settle(ctx, calls, err, s.appendAuditOne)
		return
	}
	for i, c := range calls {
		c.out = events[i].ID
	}
}
