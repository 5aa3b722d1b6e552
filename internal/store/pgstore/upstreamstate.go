package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/store"
)

// auditOnRowCTE appends the event in $1 (jsonb, or NULL for none) when the
// statement's "upd" CTE changed a row: the upstream-state counterpart of
// auditCTE, for rows that are not leases.
const auditOnRowCTE = `aud AS (
	INSERT INTO audit_events (time, action, actor_kind, actor_subject, actor_claims,
		purpose, lease_id, result, reason, token_sha256, upstream)
	SELECT r.time, r.action, r.actor_kind, r.actor_subject, r.actor_claims,
		r.purpose, r.lease_id, r.result, r.reason, r.token_sha256, r.upstream
	FROM (SELECT 1 FROM upd LIMIT 1) AS changed, jsonb_populate_record(NULL::audit_events, $1::jsonb) AS r
	WHERE $1::jsonb IS NOT NULL
)`

const sqlCurrentCredential = `SELECT upstream, key_id, account, key_sha256, config_sha256, sealed, expires, rotation_id, updated_at
FROM upstream_credentials WHERE upstream = $1`

func (s *Store) CurrentCredential(ctx context.Context, p store.CurrentCredentialParams) (*store.UpstreamCredential, error) {
	var (
		c       store.UpstreamCredential
		expires pgtype.Timestamptz
	)
	err := s.pool.QueryRow(ctx, sqlCurrentCredential, p.Upstream).Scan(&c.Upstream, &c.KeyID, &c.Account,
		&c.SHA256, &c.ConfigSHA256, &c.Sealed, &expires, &c.RotationID, &c.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("pgstore: current credential of %s: %w", p.Upstream, mapErr(err))
	}
	c.Expires, c.UpdatedAt = fromNull(expires), c.UpdatedAt.UTC()
	return &c, nil
}

const sqlDropCredential = `WITH upd AS (
	DELETE FROM upstream_credentials WHERE upstream = $2 AND key_id = $3 RETURNING 1
), ` + auditOnRowCTE + `
SELECT count(*) FROM upd`

func (s *Store) DropCredential(ctx context.Context, p store.DropCredentialParams) error {
	audit, err := auditParam(p.Audit, time.Now())
	if err != nil {
		return err
	}
	var n int
	if err := s.pool.QueryRow(ctx, sqlDropCredential, audit, p.Upstream, p.KeyID).Scan(&n); err != nil {
		return fmt.Errorf("pgstore: drop credential of %s: %w", p.Upstream, mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("pgstore: drop credential %s of %s: %w", p.KeyID, p.Upstream, errs.NotFound)
	}
	return nil
}

// lockWatchEvery is how often the connection holding a rotation lock is
// checked; if it has died, so has the lock, and the work under it stops.
const lockWatchEvery = 2 * time.Second

const (
	sqlTryRotationLock = `SELECT pg_try_advisory_lock(hashtextextended('ztbroker/rotation/' || $1, 0))`
	sqlRotationUnlock  = `SELECT pg_advisory_unlock(hashtextextended('ztbroker/rotation/' || $1, 0))`
)

// RotationLock holds a session-level advisory lock on a connection of its
// own for as long as fn runs. The connection is closed afterwards rather
// than returned to the pool, so a lock can never outlive its holder on an
// idle pooled connection; and a holder that dies (SIGKILL) loses the lock
// with its session.
func (s *Store) RotationLock(ctx context.Context, p store.RotationLockParams, fn func(context.Context) error) (bool, error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("pgstore: rotation lock of %s: %w", p.Upstream, mapErr(err))
	}
	conn := pc.Hijack()
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	var ok bool
	if err := conn.QueryRow(ctx, sqlTryRotationLock, p.Upstream).Scan(&ok); err != nil {
		return false, fmt.Errorf("pgstore: rotation lock of %s: %w", p.Upstream, mapErr(err))
	}
	if !ok {
		return false, nil
	}
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		t := time.NewTicker(lockWatchEvery)
		defer t.Stop()
		for {
			select {
			case <-fctx.Done():
				return
			case <-t.C:
				if err := conn.Ping(fctx); err != nil && fctx.Err() == nil {
					cancel(fmt.Errorf("pgstore: rotation lock of %s lost: %w", p.Upstream, mapErr(err)))
					return
				}
			}
		}
	}()
	err = fn(fctx)
	cancel(nil)
	<-watchDone
	// Unlock before closing: a closed session's locks are released only
	// when its backend has finished exiting, which another replica's
	// attempt right after could beat.
	uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer ucancel()
	_, _ = conn.Exec(uctx, sqlRotationUnlock, p.Upstream)
	return true, err
}

const rotationCols = `id, upstream, state, account, description, old_key_id, old_sha256,
	new_key_id, new_sha256, new_sealed, new_expires, requested_by, reason, error,
	started_at, minted_at, switched_at, retire_after, finished_at`

func scanRotation(row pgx.Row) (*store.Rotation, error) {
	var (
		r                                                   store.Rotation
		state                                               string
		newExpires, minted, switched, retireAfter, finished pgtype.Timestamptz
	)
	err := row.Scan(&r.ID, &r.Upstream, &state, &r.Account, &r.Description, &r.OldKeyID, &r.OldSHA256,
		&r.NewKeyID, &r.NewSHA256, &r.NewSealed, &newExpires, &r.RequestedBy, &r.Reason, &r.Error,
		&r.StartedAt, &minted, &switched, &retireAfter, &finished)
	if err != nil {
		return nil, err
	}
	r.State = store.RotationState(state)
	r.StartedAt = r.StartedAt.UTC()
	r.NewExpires, r.MintedAt, r.SwitchedAt = fromNull(newExpires), fromNull(minted), fromNull(switched)
	r.RetireAfter, r.FinishedAt = fromNull(retireAfter), fromNull(finished)
	return &r, nil
}

const sqlStartRotation = `WITH upd AS (
	INSERT INTO upstream_rotations (id, upstream, state, account, description, old_key_id, old_sha256,
		requested_by, reason, started_at)
	VALUES ($2, $3, 'started', $4, $5, $6, $7, $8, $9, $10)
	RETURNING ` + rotationCols + `
), ` + auditOnRowCTE + `
SELECT ` + rotationCols + ` FROM upd`

func (s *Store) StartRotation(ctx context.Context, p store.StartRotationParams) (*store.Rotation, error) {
	audit, err := auditParam(p.Audit, p.Now)
	if err != nil {
		return nil, err
	}
	r, err := scanRotation(s.pool.QueryRow(ctx, sqlStartRotation, audit, p.ID, p.Upstream, p.Account,
		p.Description, p.OldKeyID, p.OldSHA256, p.RequestedBy, p.Reason, p.Now))
	if err != nil {
		return nil, fmt.Errorf("pgstore: start rotation of %s: %w", p.Upstream, mapErr(err))
	}
	return r, nil
}

const sqlRecordRotationKey = `UPDATE upstream_rotations
SET state = 'minted', new_key_id = $2, new_sha256 = $3, new_sealed = $4, new_expires = $5, minted_at = $6
WHERE id = $1 AND state = 'started'
RETURNING ` + rotationCols

func (s *Store) RecordRotationKey(ctx context.Context, p store.RecordRotationKeyParams) (*store.Rotation, error) {
	r, err := scanRotation(s.pool.QueryRow(ctx, sqlRecordRotationKey, p.ID, p.NewKeyID, p.NewSHA256,
		p.Sealed, null(p.Expires), p.Now))
	if err != nil {
		return nil, s.rotationConflict(ctx, "record key of", p.ID, err)
	}
	return r, nil
}

// sqlSwitchRotation moves the sealed key from the rotation to the
// upstream's current credential in one statement, so no moment exists
// where the key is stored twice or nowhere.
const sqlSwitchRotation = `WITH upd AS (
	UPDATE upstream_rotations
	SET state = 'switched', switched_at = $3, retire_after = $4, new_sealed = NULL
	FROM (SELECT new_sealed AS sealed FROM upstream_rotations WHERE id = $2) AS o
	WHERE id = $2 AND state = 'minted'
	RETURNING ` + rotationCols + `, o.sealed
), cred AS (
	INSERT INTO upstream_credentials (upstream, key_id, account, key_sha256, config_sha256, sealed, expires, rotation_id, updated_at)
	SELECT upstream, new_key_id, account, new_sha256, $5, sealed, new_expires, id, $3 FROM upd
	ON CONFLICT (upstream) DO UPDATE SET key_id = EXCLUDED.key_id, account = EXCLUDED.account,
		key_sha256 = EXCLUDED.key_sha256, config_sha256 = EXCLUDED.config_sha256, sealed = EXCLUDED.sealed,
		expires = EXCLUDED.expires, rotation_id = EXCLUDED.rotation_id, updated_at = EXCLUDED.updated_at
), ` + auditOnRowCTE + `
SELECT ` + rotationCols + ` FROM upd`

func (s *Store) SwitchRotation(ctx context.Context, p store.SwitchRotationParams) (*store.Rotation, error) {
	audit, err := auditParam(p.Audit, p.Now)
	if err != nil {
		return nil, err
	}
	r, err := scanRotation(s.pool.QueryRow(ctx, sqlSwitchRotation, audit, p.ID, p.Now, p.RetireAfter, p.ConfigSHA256))
	if err != nil {
		return nil, s.rotationConflict(ctx, "switch", p.ID, err)
	}
	return r, nil
}

const sqlFinishRotation = `WITH upd AS (
	UPDATE upstream_rotations SET state = $3, error = $4, finished_at = $5, new_sealed = NULL
	WHERE id = $2 AND state IN ('started', 'minted', 'switched')
	RETURNING ` + rotationCols + `
), ` + auditOnRowCTE + `
SELECT ` + rotationCols + ` FROM upd`

func (s *Store) FinishRotation(ctx context.Context, p store.FinishRotationParams) (*store.Rotation, error) {
	if p.State != store.RotationDone && p.State != store.RotationFailed {
		return nil, fmt.Errorf("pgstore: finish rotation %s as %q: %w", p.ID, p.State, errs.InvalidArgument)
	}
	audit, err := auditParam(p.Audit, p.Now)
	if err != nil {
		return nil, err
	}
	r, err := scanRotation(s.pool.QueryRow(ctx, sqlFinishRotation, audit, p.ID, string(p.State), p.Error, p.Now))
	if err != nil {
		return nil, s.rotationConflict(ctx, "finish", p.ID, err)
	}
	return r, nil
}

// rotationConflict explains an update that matched no row: the rotation is
// missing (NotFound) or in another state (Conflict).
func (s *Store) rotationConflict(ctx context.Context, op, id string, err error) error {
	if !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("pgstore: %s rotation %s: %w", op, id, mapErr(err))
	}
	if _, gerr := s.GetRotation(ctx, store.GetRotationParams{ID: id}); gerr != nil {
		return fmt.Errorf("pgstore: %s rotation %s: %w", op, id, gerr)
	}
	return fmt.Errorf("pgstore: %s rotation %s: %w", op, id, errs.Conflict)
}

const sqlOpenRotation = `SELECT ` + rotationCols + ` FROM upstream_rotations
WHERE upstream = $1 AND state IN ('started', 'minted', 'switched')`

func (s *Store) OpenRotation(ctx context.Context, p store.OpenRotationParams) (*store.Rotation, error) {
	r, err := scanRotation(s.pool.QueryRow(ctx, sqlOpenRotation, p.Upstream))
	if err != nil {
		return nil, fmt.Errorf("pgstore: open rotation of %s: %w", p.Upstream, mapErr(err))
	}
	return r, nil
}

const sqlGetRotation = `SELECT ` + rotationCols + ` FROM upstream_rotations WHERE id = $1`

func (s *Store) GetRotation(ctx context.Context, p store.GetRotationParams) (*store.Rotation, error) {
	r, err := scanRotation(s.pool.QueryRow(ctx, sqlGetRotation, p.ID))
	if err != nil {
		return nil, fmt.Errorf("pgstore: rotation %s: %w", p.ID, mapErr(err))
	}
	return r, nil
}

const sqlRecordSighting = `WITH upd AS (
	INSERT INTO upstream_sightings (upstream, kind, account, id, created, first_seen)
	VALUES ($2, $3, $4, $5, $6, $7)
	ON CONFLICT DO NOTHING
	RETURNING 1
), ` + auditOnRowCTE + `
SELECT count(*) FROM upd`

func (s *Store) RecordSighting(ctx context.Context, p store.RecordSightingParams) (bool, error) {
	audit, err := auditParam(p.Audit, p.Now)
	if err != nil {
		return false, err
	}
	var n int
	err = s.pool.QueryRow(ctx, sqlRecordSighting, audit, p.Upstream, p.Kind, p.Account, p.ID, null(p.Created), p.Now).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("pgstore: record sighting on %s: %w", p.Upstream, mapErr(err))
	}
	return n == 1, nil
}

const sqlCountSightings = `SELECT count(*) FROM upstream_sightings WHERE upstream = $1 AND kind = $2`

func (s *Store) CountSightings(ctx context.Context, p store.CountSightingsParams) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, sqlCountSightings, p.Upstream, p.Kind).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: count sightings on %s: %w", p.Upstream, mapErr(err))
	}
	return n, nil
}

// sqlLeasesActiveBetween: a lease was live during [from, to] if it was
// issued by to and had not ended before from. Failed leases never held a
// token anyone could use.
const sqlLeasesActiveBetween = `SELECT id FROM leases
WHERE upstream = $1 AND ($2 = '' OR upstream_account = $2) AND issue_time <= $4
	AND (revoke_time IS NULL OR revoke_time >= $3) AND state <> 'failed'
ORDER BY id LIMIT $5`

func (s *Store) LeasesActiveBetween(ctx context.Context, p store.LeasesActiveBetweenParams) ([]string, error) {
	if err := requireLimit(p.Limit); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, sqlLeasesActiveBetween, p.Upstream, p.UpstreamAccount, p.From, p.To, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: leases active between: %w", mapErr(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("pgstore: leases active between: %w", mapErr(err))
	}
	return ids, nil
}
