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

// sqlInsertPending inserts a pending lease unless the owner's idempotency
// key is taken, in which case it returns no row. A clash on the id is
// still an error (unique violation).
const sqlInsertPending = `WITH upd AS (
	INSERT INTO leases (id, purpose, owner, state, labels, upstream, upstream_account,
		upstream_name, issue_time, expire_time, max_expire_time, idempotency_key,
		admitted_by, granted_max_ttl, requested_ttl, owner_claims,
		created_at, updated_at, delivery, upstream_kind)
	VALUES ($2, $3, $4, 'pending', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $9, $9, $17, $18)
	ON CONFLICT (owner, idempotency_key) WHERE idempotency_key <> '' DO NOTHING
	RETURNING ` + leaseCols + `
), ` + auditCTE + `
SELECT ` + leaseCols + ` FROM upd`

// sqlByIdempotencyKey finds the owner's lease holding a key, whatever its
// purpose: the caller compares the request with it.
const sqlByIdempotencyKey = `SELECT ` + leaseCols + ` FROM leases
WHERE owner = $1 AND idempotency_key = $2 AND idempotency_key <> ''`

// Quota locks. A purpose-wide limit serialises every create of the
// purpose; owner-only limits serialise one owner's creates and share the
// purpose lock, so they still wait for any purpose-wide check in flight
// (for instance while replicas disagree about the config).
const (
	sqlLockPurpose = `SELECT pg_advisory_xact_lock(hashtextextended('ztbroker/quota/' || $1, 0))`
	sqlLockOwner   = `SELECT pg_advisory_xact_lock_shared(hashtextextended('ztbroker/quota/' || $1, 0)),
	pg_advisory_xact_lock(hashtextextended('ztbroker/quota/' || $1 || '/' || $2, 0))`
)

// sqlQuotaUsage counts what each limit needs, skipping counts whose limit
// ($4, $5, $6) is off. The holding counts use leases_holding_idx, the
// window leases_issue_rate_idx.
const sqlQuotaUsage = `SELECT
	(SELECT count(*) FROM leases
		WHERE $4::int > 0 AND purpose = $1 AND state IN ('pending', 'active')),
	(SELECT count(*) FROM leases
		WHERE $5::int > 0 AND purpose = $1 AND owner = $2 AND state IN ('pending', 'active')),
	(SELECT count(*) FROM leases
		WHERE $6::int > 0 AND purpose = $1 AND owner = $2 AND created_at > $3),
	(SELECT min(created_at) FROM leases
		WHERE $6::int > 0 AND purpose = $1 AND owner = $2 AND created_at > $3)`

// sqlEarliestHolding is when the first slot of an active limit frees:
// the earliest expiry among the leases it counts, the owner's alone when
// $2 is set. It runs only on a refusal, keeping the common path to counts.
const sqlEarliestHolding = `SELECT min(expire_time) FROM leases
	WHERE purpose = $1 AND ($2::text = '' OR owner = $2) AND state IN ('pending', 'active')`

// minActiveRetry is the least retry delay an active limit reports: a
// lease past its expiry still holds its slot until the revoker ends it,
// which takes a moment.
const minActiveRetry = time.Second

func (s *Store) CreatePending(ctx context.Context, p store.CreatePendingParams) (*store.CreatePendingResult, error) {
	if p.Quota == nil {
		l, err := s.creates.do(ctx, p)
		if errors.Is(err, pgx.ErrNoRows) {
			// The owner's idempotency key is taken: answer with its lease.
			res, err := existing(ctx, s.pool, p)
			if err != nil {
				return nil, fmt.Errorf("pgstore: create lease: %w", mapErr(err))
			}
			return res, nil
		}
		if err != nil {
			return nil, fmt.Errorf("pgstore: create lease: %w", mapErr(err))
		}
		return &store.CreatePendingResult{Lease: l}, nil
	}

	var res *store.CreatePendingResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		lock, lockArgs := sqlLockOwner, []any{p.Purpose, p.Owner}
		if p.Quota.MaxActivePerPurpose > 0 {
			lock, lockArgs = sqlLockPurpose, []any{p.Purpose}
		}
		if _, err := tx.Exec(ctx, lock, lockArgs...); err != nil {
			return err
		}
		// A replayed request gets its lease back even when the quota is
		// now full.
		found, err := byKey(ctx, tx, p)
		if err != nil {
			return err
		}
		if found != nil {
			res = &store.CreatePendingResult{Lease: found, Existing: true}
			return nil
		}
		if err := checkQuota(ctx, tx, p); err != nil {
			return err
		}
		res, err = insertPending(ctx, tx, p)
		return err
	})
	if err != nil {
		var qe *store.QuotaError
		if errors.As(err, &qe) {
			return nil, err
		}
		return nil, fmt.Errorf("pgstore: create lease: %w", mapErr(err))
	}
	return res, nil
}

// deliveryParam defaults an empty delivery to token delivery.
func deliveryParam(d string) string {
	if d == "" {
		return lease.DeliveryToken
	}
	return d
}

// querier is what both the pool and a transaction offer.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// pendingArgs are sqlInsertPending's arguments for p.
func pendingArgs(p store.CreatePendingParams) ([]any, error) {
	audit, err := auditParam(p.Audit, p.Now)
	if err != nil {
		return nil, err
	}
	return []any{audit, p.ID, p.Purpose, p.Owner, labelsParam(p.Labels), p.Upstream, p.UpstreamAccount,
		p.UpstreamName, p.Now, p.ExpireTime, p.MaxExpireTime, p.IdempotencyKey,
		p.AdmittedBy, p.GrantedMaxTTL, p.RequestedTTL, labelsParam(p.OwnerClaims), deliveryParam(p.Delivery), p.UpstreamKind}, nil
}

// insertPending runs sqlInsertPending for p. An insert skipped for a
// taken idempotency key answers with the key's holder.
func insertPending(ctx context.Context, q querier, p store.CreatePendingParams) (*store.CreatePendingResult, error) {
	args, err := pendingArgs(p)
	if err != nil {
		return nil, err
	}
	l, err := scanLease(q.QueryRow(ctx, sqlInsertPending, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return existing(ctx, q, p)
	}
	if err != nil {
		return nil, err
	}
	return &store.CreatePendingResult{Lease: l}, nil
}

// byKey returns the lease holding p's idempotency key, or nil.
func byKey(ctx context.Context, q querier, p store.CreatePendingParams) (*lease.Lease, error) {
	if p.IdempotencyKey == "" {
		return nil, nil
	}
	l, err := scanLease(q.QueryRow(ctx, sqlByIdempotencyKey, p.Owner, p.IdempotencyKey))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return l, err
}

// existing answers an insert that hit a taken idempotency key with the
// lease holding the key.
func existing(ctx context.Context, q querier, p store.CreatePendingParams) (*store.CreatePendingResult, error) {
	l, err := byKey(ctx, q, p)
	if err != nil {
		return nil, err
	}
	if l == nil {
		// ON CONFLICT waits for the holder of the key to commit, so a
		// skipped insert means a committed row that was since removed.
		return nil, fmt.Errorf("idempotency key holder vanished: %w", errs.Conflict)
	}
	return &store.CreatePendingResult{Lease: l, Existing: true}, nil
}

// checkQuota returns a *store.QuotaError when p would exceed its quota.
// The caller holds the quota lock.
func checkQuota(ctx context.Context, tx pgx.Tx, p store.CreatePendingParams) error {
	q := p.Quota
	windowStart := p.Now.Add(-q.Window)
	var perPurpose, perOwner, inWindow int64
	var oldest *time.Time
	err := tx.QueryRow(ctx, sqlQuotaUsage, p.Purpose, p.Owner, windowStart,
		q.MaxActivePerPurpose, q.MaxActivePerOwner, q.MaxIssuesPerWindow,
	).Scan(&perPurpose, &perOwner, &inWindow, &oldest)
	if err != nil {
		return err
	}
	switch {
	case q.MaxActivePerPurpose > 0 && perPurpose >= int64(q.MaxActivePerPurpose):
		retry, err := untilFree(ctx, tx, p, "")
		if err != nil {
			return err
		}
		return &store.QuotaError{Limit: "active_per_purpose", Max: q.MaxActivePerPurpose, RetryAfter: retry}
	case q.MaxActivePerOwner > 0 && perOwner >= int64(q.MaxActivePerOwner):
		retry, err := untilFree(ctx, tx, p, p.Owner)
		if err != nil {
			return err
		}
		return &store.QuotaError{Limit: "active_per_owner", Max: q.MaxActivePerOwner, RetryAfter: retry}
	case q.MaxIssuesPerWindow > 0 && inWindow >= int64(q.MaxIssuesPerWindow):
		// The oldest issue in the window is the first to leave it.
		retry := time.Duration(0)
		if oldest != nil {
			retry = oldest.Add(q.Window).Sub(p.Now.Truncate(time.Microsecond))
		}
		return &store.QuotaError{Limit: "issue_rate", Max: q.MaxIssuesPerWindow, RetryAfter: retry}
	}
	return nil
}

// untilFree is how long until the first lease an active limit counts
// expires and, once revoked, frees its slot; owner "" means every owner.
func untilFree(ctx context.Context, tx pgx.Tx, p store.CreatePendingParams, owner string) (time.Duration, error) {
	var earliest *time.Time
	if err := tx.QueryRow(ctx, sqlEarliestHolding, p.Purpose, owner).Scan(&earliest); err != nil {
		return 0, err
	}
	if earliest == nil {
		return minActiveRetry, nil
	}
	return max(earliest.Sub(p.Now.Truncate(time.Microsecond)), minActiveRetry), nil
}
