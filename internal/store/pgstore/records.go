package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

func sortByID(ls []*lease.Lease) {
	slices.SortFunc(ls, func(a, b *lease.Lease) int { return strings.Compare(a.ID, b.ID) })
}

// leaseFilter is the WHERE clause shared by both RevokeMatching statements,
// over parameters $1..$4.
const leaseFilter = `state = 'active'
	AND ($1 = '' OR purpose = $1)
	AND ($2 = '' OR owner = $2)
	AND ($3 = '' OR labels @> jsonb_build_object($3::text, $4::text))`

// sqlRevokeMatching counts the remaining matches on the statement's
// snapshot, taken before its own update, so it subtracts what it moved.
// Both statements report at most 100 ids, as RevokeMatchingResult says.
const sqlRevokeMatching = `WITH pick AS (
	SELECT id AS lease_id FROM leases WHERE ` + leaseFilter + `
	ORDER BY id LIMIT $5
	FOR UPDATE SKIP LOCKED
), upd AS (
	UPDATE leases SET state = 'revoking', revoke_reason = $6, revoked_by = $7,
		revoke_time = $8, next_attempt_at = $8, updated_at = $8
	FROM pick WHERE id = pick.lease_id
	RETURNING id
)
SELECT (SELECT count(*) FROM upd),
	(SELECT count(*) FROM leases WHERE ` + leaseFilter + `) - (SELECT count(*) FROM upd),
	ARRAY(SELECT id FROM upd ORDER BY id LIMIT 100)`

const sqlRevokeMatchingDryRun = `SELECT
	(SELECT count(*) FROM leases WHERE ` + leaseFilter + `),
	ARRAY(SELECT id FROM leases WHERE ` + leaseFilter + ` ORDER BY id LIMIT LEAST($5::int, 100))`

func (s *Store) RevokeMatching(ctx context.Context, p store.RevokeMatchingParams) (*store.RevokeMatchingResult, error) {
	if err := requireLimit(p.Limit); err != nil {
		return nil, err
	}
	f := p.Filter
	if !f.All && f.Purpose == "" && f.Owner == "" && f.LabelKey == "" {
		return nil, fmt.Errorf("pgstore: revoke matching: empty filter without All: %w", errs.InvalidArgument)
	}
	var res store.RevokeMatchingResult
	var done, remaining int64
	var err error
	if p.DryRun {
		var total int64
		err = s.pool.QueryRow(ctx, sqlRevokeMatchingDryRun, f.Purpose, f.Owner, f.LabelKey, f.LabelVal, p.Limit).
			Scan(&total, &res.IDs)
		done = min(total, int64(p.Limit))
		remaining = total - done
	} else {
		err = s.pool.QueryRow(ctx, sqlRevokeMatching, f.Purpose, f.Owner, f.LabelKey, f.LabelVal, p.Limit,
			p.Reason, p.RevokedBy, p.Now).Scan(&done, &remaining, &res.IDs)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: revoke matching: %w", mapErr(err))
	}
	res.Done, res.Remaining = int(done), int(remaining)
	if len(res.IDs) == 0 {
		res.IDs = nil
	}
	return &res, nil
}

// sqlListUpstreamTokens reads the live states one by one, each through
// its own partial index (leases_pending_created_idx,
// leases_active_expire_idx, leases_revoke_due_idx), which together hold
// every live lease; there is no index on the account of its own. Proxy
// leases have no upstream token.
const sqlListUpstreamTokens = `SELECT ` + leaseCols + ` FROM (
	SELECT * FROM leases WHERE state = 'pending' AND upstream = $1 AND upstream_account = $2 AND delivery = 'token'
	UNION ALL
	SELECT * FROM leases WHERE state = 'active' AND upstream = $1 AND upstream_account = $2 AND delivery = 'token'
	UNION ALL
	SELECT * FROM leases WHERE state IN ('revoking', 'revoke_failed') AND upstream = $1 AND upstream_account = $2 AND delivery = 'token'
) live
ORDER BY id`

func (s *Store) ListUpstreamTokens(ctx context.Context, p store.ListUpstreamTokensParams) ([]*lease.Lease, error) {
	rows, err := s.pool.Query(ctx, sqlListUpstreamTokens, p.Upstream, p.UpstreamAccount)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list upstream tokens: %w", mapErr(err))
	}
	ls, err := scanLeases(rows)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list upstream tokens: %w", mapErr(err))
	}
	return ls, nil
}

const sqlCountActive = `SELECT purpose, count(*) FROM leases WHERE state = 'active' GROUP BY purpose`

func (s *Store) CountActive(ctx context.Context) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, sqlCountActive)
	if err != nil {
		return nil, fmt.Errorf("pgstore: count active: %w", mapErr(err))
	}
	out := map[string]int{}
	var purpose string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&purpose, &n}, func() error {
		out[purpose] = int(n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: count active: %w", mapErr(err))
	}
	return out, nil
}

// Sealed secrets are served only while their lease is active: once
// revocation begins, replaying the secret would hand out a dying token.
const sqlSealedSecret = `SELECT s.sealed FROM lease_secrets s
JOIN leases l ON l.id = s.lease_id
WHERE s.lease_id = $1 AND s.sealed_until > $2 AND l.state = 'active'`

func (s *Store) SealedSecret(ctx context.Context, p store.SealedSecretParams) ([]byte, error) {
	var sealed []byte
	err := s.pool.QueryRow(ctx, sqlSealedSecret, p.ID, p.Now).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstore: sealed secret for %s: %w", p.ID, errs.NotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: sealed secret for %s: %w", p.ID, mapErr(err))
	}
	return sealed, nil
}

const sqlEraseSealedSecrets = `DELETE FROM lease_secrets s
WHERE s.sealed_until <= $1
	OR NOT EXISTS (SELECT 1 FROM leases l WHERE l.id = s.lease_id AND l.state = 'active')`

func (s *Store) EraseSealedSecrets(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, sqlEraseSealedSecrets, now)
	if err != nil {
		return 0, fmt.Errorf("pgstore: erase sealed secrets: %w", mapErr(err))
	}
	return int(tag.RowsAffected()), nil
}
