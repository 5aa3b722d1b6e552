package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/store"
)

// sqlDeleteEndedLeases claims a batch of ended leases with SKIP LOCKED, so
// replicas running it at once each take different rows, and deletes them.
// The claim's conditions are repeated in the DELETE: the rows are locked,
// so they cannot change in between, but the statement states its own
// promise. A forgotten token lease is kept: nothing confirmed its token
// gone, and its row is the only record that it may still exist.
const sqlDeleteEndedLeases = `WITH doomed AS (
	SELECT id FROM leases
	WHERE state IN ('revoked', 'failed') AND updated_at < $1
		AND (state <> 'revoked' OR revoke_reason <> 'forgotten' OR delivery = 'proxy')
	ORDER BY updated_at
	LIMIT $2
	FOR UPDATE SKIP LOCKED
)
DELETE FROM leases l USING doomed
WHERE l.id = doomed.id AND l.state IN ('revoked', 'failed')
	AND (l.state <> 'revoked' OR l.revoke_reason <> 'forgotten' OR l.delivery = 'proxy')`

func (s *Store) DeleteEndedLeases(ctx context.Context, p store.DeleteEndedLeasesParams) (int, error) {
	if err := requireLimit(p.Limit); err != nil {
		return 0, err
	}
	if p.EndedBefore.IsZero() {
		return 0, fmt.Errorf("pgstore: delete ended leases: no cutoff: %w", errs.InvalidArgument)
	}
	tag, err := s.pool.Exec(ctx, sqlDeleteEndedLeases, p.EndedBefore, p.Limit)
	if err != nil {
		return 0, fmt.Errorf("pgstore: delete ended leases: %w", mapErr(err))
	}
	return int(tag.RowsAffected()), nil
}

// sqlMaintainAudit calls the function migration 0007 defines; partition
// DDL is built there, by the schema's owner, never here.
const sqlMaintainAudit = `SELECT r_action, COALESCE(r_partition, ''), r_from, r_to, COALESCE(r_rows, 0),
	COALESCE(r_event_id, 0), COALESCE(r_reason, '')
FROM audit_partitions_maintain($1, $2, $3)`

func (s *Store) MaintainAuditPartitions(ctx context.Context, p store.MaintainAuditParams) (*store.AuditMaintenance, error) {
	if p.Ahead < 1 || p.Ahead > 24 {
		return nil, fmt.Errorf("pgstore: maintain audit partitions: ahead %d not in [1, 24]: %w", p.Ahead, errs.InvalidArgument)
	}
	res := &store.AuditMaintenance{}
	// One transaction: the function's advisory lock is held until the
	// commit, and the drops and their events commit together.
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sqlMaintainAudit, p.Now, p.Ahead, null(p.KeepSince))
		if err != nil {
			return err
		}
		var (
			action, name string
			from, to     pgtype.Timestamptz
			n, eventID   int64
			reason       string
		)
		_, err = pgx.ForEachRow(rows, []any{&action, &name, &from, &to, &n, &eventID, &reason}, func() error {
			part := store.AuditPartition{Name: name, From: fromNull(from), To: fromNull(to), Rows: n}
			switch action {
			case "busy":
				res.Busy = true
			case "created":
				res.Created = append(res.Created, part)
			case "dropped":
				part.Event = &store.AuditEvent{
					ID: eventID, Time: p.Now.UTC().Truncate(time.Microsecond), Action: store.ActionAuditPartitionDrop,
					ActorKind: store.RetentionActorKind, ActorSubject: store.RetentionActorSubject,
					Result: "ok", Reason: reason,
				}
				res.Dropped = append(res.Dropped, part)
			case "moved":
				res.Moved += n
			default:
				return fmt.Errorf("unknown action %q", action)
			}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: maintain audit partitions: %w", mapErr(err))
	}
	return res, nil
}
