package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

const sqlActivate = `WITH upd AS (
	UPDATE leases SET state = 'active', upstream_token_id = $3, token_sha256 = $4,
		upstream_expire_time = $5, issue_time = $6, updated_at = $6
	WHERE id = $2 AND state = 'pending'
	RETURNING ` + leaseCols + `
), sec AS (
	INSERT INTO lease_secrets (lease_id, sealed, sealed_until)
	SELECT id, $7, $8 FROM upd WHERE $7::bytea IS NOT NULL
), ` + auditCTE + `
SELECT ` + leaseCols + ` FROM upd`

func (s *Store) Activate(ctx context.Context, p store.ActivateParams) (*lease.Lease, error) {
	l, err := s.activates.do(ctx, p)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, s.whyNot(ctx, "activate", p.ID, "", errs.Conflict)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: activate %s: %w", p.ID, mapErr(err))
	}
	return l, nil
}

// activateOne is Activate's statement for one lease; no row is
// pgx.ErrNoRows.
func (s *Store) activateOne(ctx context.Context, p store.ActivateParams) (*lease.Lease, error) {
	audit, err := auditParam(p.Audit, p.Now)
	if err != nil {
		return nil, err
	}
	var sealed []byte
	if len(p.SealedSecret) > 0 {
		sealed = p.SealedSecret
	}
	return scanLease(s.pool.QueryRow(ctx, sqlActivate, audit, p.ID, p.UpstreamTokenID, p.TokenSHA256,
		null(p.UpstreamExpireTime), p.Now, sealed, p.SealedUntil))
}

const sqlFailPending = `WITH upd AS (
	UPDATE leases SET state = 'failed', revoke_reason = $3, revoke_time = $4,
		next_attempt_at = NULL, updated_at = $4
	WHERE id = $2 AND state = 'pending'
	RETURNING ` + leaseCols + `
), ` + auditCTE + `
SELECT ` + leaseCols + ` FROM upd`

func (s *Store) FailPending(ctx context.Context, p store.FailPendingParams) (*lease.Lease, error) {
	audit, err := auditParam(p.Audit, p.Now)
	if err != nil {
		return nil, err
	}
	l, err := scanLease(s.pool.QueryRow(ctx, sqlFailPending, audit, p.ID, p.Reason, p.Now))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, s.whyNot(ctx, "fail", p.ID, "", errs.Conflict)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: fail %s: %w", p.ID, mapErr(err))
	}
	return l, nil
}

const sqlGetLease = `SELECT ` + leaseCols + ` FROM leases WHERE id = $1 AND ($2 = '' OR owner = $2)`

func (s *Store) GetLease(ctx context.Context, p store.GetLeaseParams) (*lease.Lease, error) {
	l, err := scanLease(s.pool.QueryRow(ctx, sqlGetLease, p.ID, p.Owner))
	if err != nil {
		return nil, fmt.Errorf("pgstore: get lease %s: %w", p.ID, mapErr(err))
	}
	return l, nil
}

// sqlGetProxyLease is the proxy's per-call read. The predicate repeats
// the partial index's own, so the planner uses leases_proxy_credential_idx
// whatever the parameter. It reads the seven columns the proxy uses, not
// the lease's twenty-eight: scanning and decoding the rest (two of them
// JSON) was a tenth of the broker's CPU per proxied call. Labels come as
// text so that an empty set costs no JSON decoding.
const sqlGetProxyLease = `SELECT id, purpose, owner, state, expire_time, labels::text, token_sha256
FROM leases
WHERE token_sha256 = $1 AND delivery = 'proxy' AND token_sha256 <> ''`

func (s *Store) GetProxyLease(ctx context.Context, p store.GetProxyLeaseParams) (*store.ProxyLease, error) {
	if p.CredentialSHA256 == "" {
		return nil, fmt.Errorf("pgstore: get proxy lease: empty hash: %w", errs.NotFound)
	}
	var (
		l      store.ProxyLease
		state  string
		labels string
	)
	err := s.pool.QueryRow(ctx, sqlGetProxyLease, p.CredentialSHA256).
		Scan(&l.ID, &l.Purpose, &l.Owner, &state, &l.ExpireTime, &labels, &l.TokenSHA256)
	if err != nil {
		return nil, fmt.Errorf("pgstore: get proxy lease: %w", mapErr(err))
	}
	l.State = lease.State(state)
	l.ExpireTime = l.ExpireTime.UTC()
	if labels != "" && labels != "{}" {
		if err := json.Unmarshal([]byte(labels), &l.Labels); err != nil {
			return nil, fmt.Errorf("pgstore: get proxy lease %s: labels: %w", l.ID, err)
		}
	}
	return &l, nil
}

// whyNot explains an update that matched no row: the lease does not exist
// (or belongs to another owner), or it was in a state the update does not
// accept, reported as wrongState.
func (s *Store) whyNot(ctx context.Context, op, id, owner string, wrongState error) error {
	l, err := scanLease(s.pool.QueryRow(ctx, sqlGetLease, id, owner))
	if err != nil {
		return fmt.Errorf("pgstore: %s %s: %w", op, id, mapErr(err))
	}
	return fmt.Errorf("pgstore: %s %s in state %s: %w", op, id, l.State, wrongState)
}

// sqlListLeases pages newest first. Ids are UUIDv7, so id order is
// creation order and the id alone is a stable cursor.
const sqlListLeases = `SELECT ` + leaseCols + ` FROM leases
WHERE ($1 = '' OR owner = $1)
	AND ($2 = '' OR purpose = $2)
	AND ($3 = '' OR state = $3)
	AND ($4 = '' OR labels @> jsonb_build_object($4::text, $5::text))
	AND ($6 = '' OR id < $6)
ORDER BY id DESC
LIMIT $7`

func (s *Store) ListLeases(ctx context.Context, p store.ListLeasesParams) (*store.ListLeasesResult, error) {
	if err := requireLimit(p.PageSize); err != nil {
		return nil, err
	}
	after, err := parseLeaseCursor(p.After)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, sqlListLeases, p.Owner, p.Purpose, string(p.State),
		p.LabelKey, p.LabelVal, after, p.PageSize+1)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list leases: %w", mapErr(err))
	}
	ls, err := scanLeases(rows)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list leases: %w", mapErr(err))
	}
	res := &store.ListLeasesResult{Leases: ls}
	if len(ls) > p.PageSize {
		res.Leases = ls[:p.PageSize]
		res.Next = leaseCursor(res.Leases[p.PageSize-1].ID)
	}
	return res, nil
}

const sqlRenewLease = `WITH upd AS (
	UPDATE leases SET expire_time = $4, updated_at = $5
	WHERE id = $2 AND ($3 = '' OR owner = $3) AND state = 'active' AND $4 <= max_expire_time
		AND expire_time > $5
	RETURNING ` + leaseCols + `
), ` + auditCTE + `
SELECT ` + leaseCols + ` FROM upd`

func (s *Store) RenewLease(ctx context.Context, p store.RenewLeaseParams) (*lease.Lease, error) {
	audit, err := auditParam(p.Audit, p.Now)
	if err != nil {
		return nil, err
	}
	l, err := scanLease(s.pool.QueryRow(ctx, sqlRenewLease, audit, p.ID, p.Owner, p.ExpireTime, p.Now))
	if err == nil {
		return l, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstore: renew %s: %w", p.ID, mapErr(err))
	}
	cur, err := scanLease(s.pool.QueryRow(ctx, sqlGetLease, p.ID, p.Owner))
	switch {
	case err != nil:
		return nil, fmt.Errorf("pgstore: renew %s: %w", p.ID, mapErr(err))
	case cur.State != lease.StateActive:
		return nil, fmt.Errorf("pgstore: renew %s in state %s: %w", p.ID, cur.State, errs.FailedPrecondition)
	case !cur.ExpireTime.After(p.Now):
		return nil, fmt.Errorf("pgstore: renew %s after it expired: %w", p.ID, errs.FailedPrecondition)
	default:
		return nil, fmt.Errorf("pgstore: renew %s past its max expire time: %w", p.ID, errs.InvalidArgument)
	}
}
