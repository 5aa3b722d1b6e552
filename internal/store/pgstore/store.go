package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

var _ store.Store = (*Store)(nil)

// Store is a store.Store on a pgx pool. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	// The lease cycle's writes, group-committed (group.go, batched.go).
	creates   *group[store.CreatePendingParams, *lease.Lease]
	activates *group[store.ActivateParams, *lease.Lease]
	revokes   *group[store.RevokeActiveParams, *lease.Lease]
	// And the revoker's: at an expiry storm its concurrent deletes each
	// end in a completion, and each claim of an expired lease in a note.
	completions *group[store.CompleteRevokeParams, *lease.Lease]
	appends     *group[*store.AuditEvent, int64]
}

// New returns a store on pool, which must point at a migrated database.
func New(pool *pgxpool.Pool) *Store {
	s := &Store{pool: pool}
	s.initGroups()
	return s
}

func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pgstore: ping: %w", mapErr(err))
	}
	return nil
}

// rollbackTimeout bounds the rollback that runs after a failed or
// cancelled transaction.
const rollbackTimeout = 5 * time.Second

// inTx runs fn in a transaction. The rollback uses a context detached from
// ctx: when a request is cancelled mid-transaction the rollback must still
// reach the server, or the connection would go back to the pool holding
// locks.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		_ = tx.Rollback(rctx) // after Commit this is a no-op
	}()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// leaseCols is the column list every lease query returns, in scanLease's
// order.
const leaseCols = `id, purpose, owner, state, labels, upstream, upstream_account,
	upstream_token_id, upstream_name, upstream_expire_time, token_sha256,
	issue_time, expire_time, max_expire_time, revoke_reason, revoked_by,
	revoke_time, revoke_attempts, next_attempt_at, last_error,
	idempotency_key, admitted_by, granted_max_ttl, requested_ttl, owner_claims,
	created_at, updated_at, delivery, upstream_kind`

func scanLease(row pgx.Row) (*lease.Lease, error) {
	var (
		l                              lease.Lease
		state                          string
		upExp, revokeTime, nextAttempt pgtype.Timestamptz
		attempts                       int32
	)
	err := row.Scan(&l.ID, &l.Purpose, &l.Owner, &state, &l.Labels, &l.Upstream, &l.UpstreamAccount,
		&l.UpstreamTokenID, &l.UpstreamName, &upExp, &l.TokenSHA256,
		&l.IssueTime, &l.ExpireTime, &l.MaxExpireTime, &l.RevokeReason, &l.RevokedBy,
		&revokeTime, &attempts, &nextAttempt, &l.LastError,
		&l.IdempotencyKey, &l.AdmittedBy, &l.GrantedMaxTTL, &l.RequestedTTL, &l.OwnerClaims,
		&l.CreatedAt, &l.UpdatedAt, &l.Delivery, &l.UpstreamKind)
	if err != nil {
		return nil, err
	}
	l.State = lease.State(state)
	l.RevokeAttempts = int(attempts)
	if len(l.Labels) == 0 {
		l.Labels = nil
	}
	if len(l.OwnerClaims) == 0 {
		l.OwnerClaims = nil
	}
	l.UpstreamExpireTime = fromNull(upExp)
	l.RevokeTime = fromNull(revokeTime)
	l.NextAttemptAt = fromNull(nextAttempt)
	for _, t := range []*time.Time{&l.IssueTime, &l.ExpireTime, &l.MaxExpireTime, &l.CreatedAt, &l.UpdatedAt} {
		*t = t.UTC()
	}
	return &l, nil
}

func scanLeases(rows pgx.Rows) ([]*lease.Lease, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*lease.Lease, error) { return scanLease(r) })
}

// null maps the zero time to SQL NULL.
func null(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

func fromNull(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

func labelsParam(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
