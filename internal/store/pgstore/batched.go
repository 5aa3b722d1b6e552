package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

// The lease cycle's three writes, each for many leases in one statement
// (see group); the revoker's are in batched_revoker.go. A statement of
// one call uses the single-lease SQL, so a lone caller runs exactly what
// it ran before. Each statement keeps the
// single one's meaning row by row: the same conditions on state and
// owner, the same audit events in the same transaction, in call order.
// A call whose row the statement skipped gets pgx.ErrNoRows and is
// explained by the same follow-up read as a single call.

const (
	// maxBatch bounds the leases of one statement.
	maxBatch = 64
	// batchTimeout bounds a statement of several calls, which no caller
	// can cancel, when a caller has no deadline of its own (see group).
	batchTimeout = 30 * time.Second
)

func (s *Store) initGroups() {
	s.creates = &group[store.CreatePendingParams, *lease.Lease]{max: maxBatch, timeout: batchTimeout,
		one: s.createOne, run: s.createBatch}
	s.activates = &group[store.ActivateParams, *lease.Lease]{max: maxBatch, timeout: batchTimeout,
		one: s.activateOne, run: s.activateBatch}
	s.revokes = &group[store.RevokeActiveParams, *lease.Lease]{max: maxBatch, timeout: batchTimeout,
		one: s.revokeActiveOne, run: s.revokeActiveBatch}
	s.completions = &group[store.CompleteRevokeParams, *lease.Lease]{max: maxBatch, timeout: batchTimeout,
		one: s.completeRevokeOne, run: s.completeRevokeBatch}
	s.appends = &group[*store.AuditEvent, int64]{max: maxBatch, timeout: batchTimeout,
		one: s.appendAuditOne, run: s.appendAuditBatch}
}

// leaseColsOf is leaseCols qualified by a table alias, for statements
// that join a lease with the rows of their calls.
func leaseColsOf(alias string) string {
	cols := strings.Split(leaseCols, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// auditBatchCTE appends the events in $1, a jsonb array whose elements
// carry, besides an audit row, "k": the call they belong to. An event is
// written only when its call's row was written, like auditCTE's.
const auditBatchCTE = `aud AS (
` + auditInsert + `
	FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(doc, n)
	JOIN upd ON upd.k = (e.doc->>'k')::bigint
	CROSS JOIN LATERAL jsonb_populate_record(NULL::audit_events, e.doc) AS r
	ORDER BY e.n
)`

// batchAuditRow is an audit row and the 1-based call it belongs to.
type batchAuditRow struct {
	auditRow
	K int `json:"k"`
}

// batchAudit encodes the events of every call for auditBatchCTE, in call
// order; events(i) gives call i's events and their fallback times.
func batchAudit(n int, events func(i int) ([]*store.AuditEvent, []time.Time)) (string, error) {
	rows := make([]batchAuditRow, 0, 2*n)
	for i := range n {
		evs, nows := events(i)
		for j, e := range evs {
			if e != nil {
				rows = append(rows, batchAuditRow{auditRow: newAuditRow(e, nows[j]), K: i + 1})
			}
		}
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return "", fmt.Errorf("pgstore: encode audit events: %w", err)
	}
	return string(b), nil
}

var sqlActivateBatch = `WITH u AS (
	SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
		$7::bytea[], $8::timestamptz[])
		WITH ORDINALITY AS u(id, token_id, token_sha256, upstream_expire_time, now, sealed, sealed_until, k)
), upd AS (
	UPDATE leases l SET state = 'active', upstream_token_id = u.token_id, token_sha256 = u.token_sha256,
		upstream_expire_time = u.upstream_expire_time, issue_time = u.now, updated_at = u.now
	FROM u
	WHERE l.id = u.id AND l.state = 'pending'
	RETURNING u.k, ` + leaseColsOf("l") + `
), sec AS (
	INSERT INTO lease_secrets (lease_id, sealed, sealed_until)
	SELECT upd.id, u.sealed, u.sealed_until FROM upd JOIN u ON u.k = upd.k
	WHERE u.sealed IS NOT NULL
), ` + auditBatchCTE + `
SELECT k, ` + leaseCols + ` FROM upd`

func (s *Store) activateBatch(ctx context.Context, calls []*call[store.ActivateParams, *lease.Lease]) {
	n := len(calls)
	var (
		ids, tokenIDs, hashes = make([]string, n), make([]string, n), make([]string, n)
		upExp, nows, until    = make([]pgtype.Timestamptz, n), make([]time.Time, n), make([]pgtype.Timestamptz, n)
		sealed                = make([][]byte, n)
	)
	for i, c := range calls {
		p := c.in
		ids[i], tokenIDs[i], hashes[i] = p.ID, p.UpstreamTokenID, p.TokenSHA256
		upExp[i], nows[i] = null(p.UpstreamExpireTime), p.Now
		if len(p.SealedSecret) > 0 {
			sealed[i], until[i] = p.SealedSecret, pgtype.Timestamptz{Time: p.SealedUntil, Valid: true}
		}
	}
	audit, err := batchAudit(n, func(i int) ([]*store.AuditEvent, []time.Time) {
		return []*store.AuditEvent{calls[i].in.Audit}, []time.Time{calls[i].in.Now}
	})
	if err == nil {
		err = runBatch(ctx, s.pool, calls, sqlActivateBatch, audit, ids, tokenIDs, hashes, upExp, nows, sealed, until)
	}
	if err != nil {
		settle(ctx, calls, err, s.activateOne)
	}
}

var sqlRevokeActiveBatch = `WITH u AS (
	SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[])
		WITH ORDINALITY AS u(id, owner, reason, revoked_by, now, done_at, k)
), upd AS (
	UPDATE leases l SET state = 'revoked', revoke_reason = u.reason, revoked_by = u.revoked_by,
		revoke_time = u.now, next_attempt_at = NULL, updated_at = u.done_at
	FROM u
	WHERE l.id = u.id AND (u.owner = '' OR l.owner = u.owner) AND l.state = 'active'
	RETURNING u.k, ` + leaseColsOf("l") + `
), ` + auditBatchCTE + `
SELECT k, ` + leaseCols + ` FROM upd`

func (s *Store) revokeActiveBatch(ctx context.Context, calls []*call[store.RevokeActiveParams, *lease.Lease]) {
	n := len(calls)
	ids, owners, reasons, by := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	nows, done := make([]time.Time, n), make([]time.Time, n)
	for i, c := range calls {
		p := c.in
		ids[i], owners[i], reasons[i], by[i], nows[i], done[i] = p.ID, p.Owner, p.Reason, p.RevokedBy, p.Now, p.DoneAt
	}
	audit, err := batchAudit(n, func(i int) ([]*store.AuditEvent, []time.Time) {
		p := calls[i].in
		return []*store.AuditEvent{p.Audit, p.Completion}, []time.Time{p.Now, p.DoneAt}
	})
	if err == nil {
		err = runBatch(ctx, s.pool, calls, sqlRevokeActiveBatch, audit, ids, owners, reasons, by, nows, done)
	}
	if err != nil {
		settle(ctx, calls, err, s.revokeActiveOne)
	}
}

// sqlInsertPendingBatch inserts in call order. INSERT cannot return its
// source's columns, so the call number comes back through the id, which
// each call brings and which must be unique: a repeated id fails the
// statement, and every call is then retried alone.
var sqlInsertPendingBatch = `WITH u AS (
	SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
		$8::text[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::text[],
		$13::text[], $14::bigint[], $15::bigint[], $16::text[], $17::text[], $18::text[])
		WITH ORDINALITY AS u(id, purpose, owner, labels, upstream, upstream_account,
			upstream_name, now, expire_time, max_expire_time, idempotency_key,
			admitted_by, granted_max_ttl_us, requested_ttl_us, owner_claims, delivery, upstream_kind, k)
), ins AS (
	INSERT INTO leases (id, purpose, owner, state, labels, upstream, upstream_account,
		upstream_name, issue_time, expire_time, max_expire_time, idempotency_key,
		admitted_by, granted_max_ttl, requested_ttl, owner_claims,
		created_at, updated_at, delivery, upstream_kind)
	SELECT id, purpose, owner, 'pending', labels::jsonb, upstream, upstream_account,
		upstream_name, now, expire_time, max_expire_time, idempotency_key,
		admitted_by, granted_max_ttl_us * interval '1 microsecond', requested_ttl_us * interval '1 microsecond',
		owner_claims::jsonb, now, now, delivery, upstream_kind
	FROM u ORDER BY k
	ON CONFLICT (owner, idempotency_key) WHERE idempotency_key <> '' DO NOTHING
	RETURNING ` + leaseCols + `
), upd AS (
	SELECT u.k, ins.* FROM ins JOIN u ON u.id = ins.id
), ` + auditBatchCTE + `
SELECT k, ` + leaseCols + ` FROM upd`

func (s *Store) createBatch(ctx context.Context, calls []*call[store.CreatePendingParams, *lease.Lease]) {
	n := len(calls)
	text := func() []string { return make([]string, n) }
	ids, purposes, owners, labels, upstreams, accounts, names := text(), text(), text(), text(), text(), text(), text()
	keys, admitted, claims, deliveries, kinds := text(), text(), text(), text(), text()
	nows, expires, maxes := make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
	granted, requested := make([]int64, n), make([]int64, n)
	for i, c := range calls {
		p := c.in
		lb, err := json.Marshal(labelsParam(p.Labels))
		if err != nil {
			settle(ctx, calls, err, s.createOne)
			return
		}
		cb, err := json.Marshal(labelsParam(p.OwnerClaims))
		if err != nil {
			settle(ctx, calls, err, s.createOne)
			return
		}
		ids[i], purposes[i], owners[i], labels[i] = p.ID, p.Purpose, p.Owner, string(lb)
		upstreams[i], accounts[i], names[i] = p.Upstream, p.UpstreamAccount, p.UpstreamName
		nows[i], expires[i], maxes[i], keys[i] = p.Now, p.ExpireTime, p.MaxExpireTime, p.IdempotencyKey
		admitted[i], granted[i], requested[i] = p.AdmittedBy, p.GrantedMaxTTL.Microseconds(), p.RequestedTTL.Microseconds()
		claims[i], deliveries[i], kinds[i] = string(cb), deliveryParam(p.Delivery), p.UpstreamKind
	}
	audit, err := batchAudit(n, func(i int) ([]*store.AuditEvent, []time.Time) {
		p := calls[i].in
		return []*store.AuditEvent{p.Audit}, []time.Time{p.Now}
	})
	if err == nil {
		err = runBatch(ctx, s.pool, calls, sqlInsertPendingBatch, audit, ids, purposes, owners, labels,
			upstreams, accounts, names, nows, expires, maxes, keys, admitted, granted, requested,
			claims, deliveries, kinds)
	}
	if err != nil {
		settle(ctx, calls, err, s.createOne)
	}
}

// createOne is CreatePending's statement for one lease without a quota;
// a taken idempotency key is pgx.ErrNoRows.
func (s *Store) createOne(ctx context.Context, p store.CreatePendingParams) (*lease.Lease, error) {
	args, err := pendingArgs(p)
	if err != nil {
		return nil, err
	}
	return scanLease(s.pool.QueryRow(ctx, sqlInsertPending, args...))
}

// runBatch runs a batch statement whose rows start with the 1-based call
// number, and gives each call its lease, or pgx.ErrNoRows when the
// statement skipped it. An error means no call has its result yet.
func runBatch[In any](ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, calls []*call[In, *lease.Lease], sql string, args ...any) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	got := make([]*lease.Lease, len(calls))
	for rows.Next() {
		var k int64
		l, err := scanLease(numberedRow{rows, &k})
		if err != nil {
			return err
		}
		if k < 1 || int(k) > len(calls) {
			return fmt.Errorf("pgstore: batch row for call %d of %d", k, len(calls))
		}
		got[k-1] = l
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i, c := range calls {
		if got[i] == nil {
			c.err = pgx.ErrNoRows
		} else {
			c.out = got[i]
		}
	}
	return nil
}

// numberedRow scans a row's leading call number into k, then the rest
// as asked.
type numberedRow struct {
	pgx.Rows
	k *int64
}

func (r numberedRow) Scan(dest ...any) error {
	return r.Rows.Scan(append([]any{r.k}, dest...)...)
}

// settle gives every call of a failed statement its result. A statement
// refused for the data of one call (a constraint, a malformed value)
// would fail the others with it, so each call is retried alone and gets
// the answer it would have had alone. So is one rolled back as a
// deadlock victim: a multi-row update locks its rows in no set order,
// and two replicas' statements over the same leases can meet, where
// single-row updates never could. PostgreSQL rolled the statement back
// in every one of these cases, so a retry cannot apply a call twice. Any
// other failure (the database unreachable, the statement timed out) is
// every call's.
func settle[In, Out any](ctx context.Context, calls []*call[In, Out], err error, one func(context.Context, In) (Out, error)) {
	if retryAlone(err) {
		for _, c := range calls {
			c.out, c.err = one(ctx, c.in)
		}
		return
	}
	for _, c := range calls {
		var zero Out
		c.out, c.err = zero, err
	}
}

// retryAlone reports whether a batch's failure calls for each call to be
// retried on its own: data exceptions (22), integrity violations (23) and
// transaction rollbacks (40: serialization failure, deadlock).
func retryAlone(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || len(pgErr.Code) < 2 {
		return false
	}
	switch pgErr.Code[:2] {
	case "22", "23", "40":
		return true
	}
	return false
}
