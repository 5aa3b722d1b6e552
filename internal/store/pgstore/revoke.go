package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

const sqlBeginRevoke = `WITH upd AS (
	UPDATE leases SET state = 'revoking', revoke_reason = $4, revoked_by = $5,
		revoke_time = $6, next_attempt_at = $7, updated_at = $6
	WHERE id = $2 AND ($3 = '' OR owner = $3) AND state = 'active'
	RETURNING ` + leaseCols + `
), ` + auditCTE + `
SELECT ` + leaseCols + ` FROM upd`

func (s *Store) BeginRevoke(ctx context.Context, p store.BeginRevokeParams) (*lease.Lease, bool, error) {
	audit, err := auditParam(p.Audit, p.Now)
	if err != nil {
		return nil, false, err
	}
	// A lease pending when the update ran may be active by the time it is
	// read back; one more try settles it, as nothing moves a lease back
	// to pending or active after that.
	for range 2 {
		l, err := scanLease(s.pool.QueryRow(ctx, sqlBeginRevoke, audit, p.ID, p.Owner,
			p.Reason, p.RevokedBy, p.Now, p.ClaimUntil))
		if err == nil {
			return l, false, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, false, fmt.Errorf("pgstore: begin revoke %s: %w", p.ID, mapErr(err))
		}
		cur, err := scanLease(s.pool.QueryRow(ctx, sqlGetLease, p.ID, p.Owner))
		switch {
		case err != nil:
			return nil, false, fmt.Errorf("pgstore: begin revoke %s: %w", p.ID, mapErr(err))
		case cur.State == lease.StatePending:
			return nil, false, fmt.Errorf("pgstore: begin revoke %s while pending: %w", p.ID, errs.FailedPrecondition)
		case cur.State != lease.StateActive:
			return cur, true, nil
		}
	}
	return nil, false, fmt.Errorf("pgstore: begin revoke %s: %w", p.ID, errs.Conflict)
}

// sqlRevokeActive ends an active lease in one write: the explicit
// revoke's fast path, taken once its token is already gone upstream.
const sqlRevokeActive = `WITH upd AS (
	UPDATE leases SET state = 'revoked', revoke_reason = $4, revoked_by = $5,
		revoke_time = $6, next_attempt_at = NULL, updated_at = $7
	WHERE id = $2 AND ($3 = '' OR owner = $3) AND state = 'active'
	RETURNING ` + leaseCols + `
), ` + auditListCTE + `
SELECT ` + leaseCols + ` FROM upd`

func (s *Store) RevokeActive(ctx context.Context, p store.RevokeActiveParams) (*lease.Lease, error) {
	l, err := s.revokes.do(ctx, p)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, s.whyNot(ctx, "revoke active", p.ID, p.Owner, errs.Conflict)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: revoke active %s: %w", p.ID, mapErr(err))
	}
	return l, nil
}

// revokeActiveOne is RevokeActive's statement for one lease; no row is
// pgx.ErrNoRows.
func (s *Store) revokeActiveOne(ctx context.Context, p store.RevokeActiveParams) (*lease.Lease, error) {
	audit, err := auditListParam([]*store.AuditEvent{p.Audit, p.Completion}, []time.Time{p.Now, p.DoneAt})
	if err != nil {
		return nil, err
	}
	return scanLease(s.pool.QueryRow(ctx, sqlRevokeActive, audit, p.ID, p.Owner,
		p.Reason, p.RevokedBy, p.Now, p.DoneAt))
}

// sqlClaimDue takes the most overdue leases of both kinds. Each branch is
// bounded by the limit and walks its own partial index; SKIP LOCKED lets
// replicas claim side by side without waiting on or double-claiming a row.
const sqlClaimDue = `WITH expired AS (
	SELECT id, expire_time AS due_at FROM leases
	WHERE state = 'active' AND expire_time <= $1
	ORDER BY expire_time, id LIMIT $3
	FOR UPDATE SKIP LOCKED
), retry AS (
	SELECT id, next_attempt_at AS due_at FROM leases
	WHERE state IN ('revoking', 'revoke_failed') AND next_attempt_at <= $1
	ORDER BY next_attempt_at, id LIMIT $3
	FOR UPDATE SKIP LOCKED
), due AS (
	SELECT id AS lease_id FROM (SELECT * FROM expired UNION ALL SELECT * FROM retry) d
	ORDER BY due_at, id LIMIT $3
)
UPDATE leases SET
	state = CASE WHEN state = 'active' THEN 'revoking' ELSE state END,
	revoke_reason = CASE WHEN state = 'active' THEN '` + lease.ReasonExpired + `' ELSE revoke_reason END,
	revoked_by = CASE WHEN state = 'active' THEN '' ELSE revoked_by END,
	revoke_time = CASE WHEN state = 'active' THEN $1 ELSE revoke_time END,
	next_attempt_at = $2,
	updated_at = $1
FROM due WHERE id = due.lease_id
RETURNING ` + leaseCols

func (s *Store) ClaimDue(ctx context.Context, p store.ClaimDueParams) ([]*lease.Lease, error) {
	if err := requireLimit(p.Limit); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, sqlClaimDue, p.Now, p.ClaimUntil, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: claim due: %w", mapErr(err))
	}
	ls, err := scanLeases(rows)
	if err != nil {
		return nil, fmt.Errorf("pgstore: claim due: %w", mapErr(err))
	}
	sortByID(ls)
	return ls, nil
}

const sqlCompleteRevoke = `WITH upd AS (
	UPDATE leases SET state = 'revoked', revoke_time = COALESCE(revoke_time, $3),
		next_attempt_at = NULL, updated_at = $3
	WHERE id = $2 AND state IN ('revoking', 'revoke_failed')
	RETURNING ` + leaseCols + `
), ` + auditCTE + `
SELECT ` + leaseCols + ` FROM upd`

func (s *Store) CompleteRevoke(ctx context.Context, p store.CompleteRevokeParams) (*lease.Lease, error) {
	l, err := s.completions.do(ctx, p)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, s.whyNot(ctx, "complete revoke of", p.ID, "", errs.Conflict)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: complete revoke of %s: %w", p.ID, mapErr(err))
	}
	return l, nil
}

// completeRevokeOne is CompleteRevoke's statement for one lease; no row
// is pgx.ErrNoRows.
func (s *Store) completeRevokeOne(ctx context.Context, p store.CompleteRevokeParams) (*lease.Lease, error) {
	audit, err := auditParam(p.Audit, p.Now)
	if err != nil {
		return nil, err
	}
	return scanLease(s.pool.QueryRow(ctx, sqlCompleteRevoke, audit, p.ID, p.Now))
}

const sqlRecordRevokeFailure = `WITH upd AS (
	UPDATE leases SET revoke_attempts = revoke_attempts + 1, last_error = $3,
		next_attempt_at = $4,
		state = CASE WHEN $5::boolean THEN 'revoke_failed' ELSE state END,
		updated_at = $6
	WHERE id = $2 AND state IN ('revoking', 'revoke_failed')
	RETURNING ` + leaseCols + `
), ` + auditCTE + `
SELECT ` + leaseCols + ` FROM upd`

func (s *Store) RecordRevokeFailure(ctx context.Context, p store.RecordRevokeFailureParams) (*lease.Lease, error) {
	audit, err := auditParam(p.Audit, p.Now)
	if err != nil {
		return nil, err
	}
	l, err := scanLease(s.pool.QueryRow(ctx, sqlRecordRevokeFailure, audit, p.ID, p.Err,
		p.NextAttemptAt, p.MarkFailed, p.Now))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, s.whyNot(ctx, "record revoke failure of", p.ID, "", errs.Conflict)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: record revoke failure of %s: %w", p.ID, mapErr(err))
	}
	return l, nil
}

const sqlNextDueTime = `SELECT LEAST(
	(SELECT min(expire_time) FROM leases WHERE state = 'active'),
	(SELECT min(next_attempt_at) FROM leases WHERE state IN ('revoking', 'revoke_failed')))`

func (s *Store) NextDueTime(ctx context.Context) (time.Time, bool, error) {
	var t *time.Time
	if err := s.pool.QueryRow(ctx, sqlNextDueTime).Scan(&t); err != nil {
		return time.Time{}, false, fmt.Errorf("pgstore: next due time: %w", mapErr(err))
	}
	if t == nil {
		return time.Time{}, false, nil
	}
	return t.UTC(), true, nil
}

const sqlClaimStalePending = `WITH stale AS (
	SELECT id AS lease_id FROM leases
	WHERE state = 'pending' AND created_at < $1
		AND (next_attempt_at IS NULL OR next_attempt_at <= $2)
	ORDER BY created_at, id LIMIT $4
	FOR UPDATE SKIP LOCKED
)
UPDATE leases SET next_attempt_at = $3, updated_at = $2
FROM stale WHERE id = stale.lease_id
RETURNING ` + leaseCols

func (s *Store) ClaimStalePending(ctx context.Context, p store.ClaimStalePendingParams) ([]*lease.Lease, error) {
	if err := requireLimit(p.Limit); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, sqlClaimStalePending, p.CreatedBefore, p.Now, p.ClaimUntil, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: claim stale pending: %w", mapErr(err))
	}
	ls, err := scanLeases(rows)
	if err != nil {
		return nil, fmt.Errorf("pgstore: claim stale pending: %w", mapErr(err))
	}
	sortByID(ls)
	return ls, nil
}

const sqlForgetLease = `WITH upd AS (
	UPDATE leases SET state = 'revoked', revoke_reason = $3, revoked_by = $4,
		revoke_time = COALESCE(revoke_time, $5), next_attempt_at = NULL, updated_at = $5
	WHERE id = $2 AND state IN ('revoking', 'revoke_failed')
	RETURNING ` + leaseCols + `
), ` + auditCTE + `
SELECT ` + leaseCols + ` FROM upd`

func (s *Store) ForgetLease(ctx context.Context, p store.ForgetLeaseParams) (*lease.Lease, error) {
	audit, err := auditParam(p.Audit, p.Now)
	if err != nil {
		return nil, err
	}
	l, err := scanLease(s.pool.QueryRow(ctx, sqlForgetLease, audit, p.ID, p.Reason, p.RevokedBy, p.Now))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, s.whyNot(ctx, "forget", p.ID, "", errs.FailedPrecondition)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: forget %s: %w", p.ID, mapErr(err))
	}
	return l, nil
}
