package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/store"
)

// auditInsert appends rows r, events, for the leases in upd, where an
// event's empty purpose, lease id or upstream is the lease's. Each audit
// CTE adds where r comes from.
const auditInsert = `	INSERT INTO audit_events (time, action, actor_kind, actor_subject, actor_claims,
		purpose, lease_id, result, reason, token_sha256, upstream)
	SELECT r.time, r.action, r.actor_kind, r.actor_subject, r.actor_claims,
		COALESCE(NULLIF(r.purpose, ''), upd.purpose), COALESCE(NULLIF(r.lease_id, ''), upd.id::text),
		r.result, r.reason, r.token_sha256, COALESCE(NULLIF(r.upstream, ''), upd.upstream)`

// auditCTE appends the audit event in $1 (jsonb, or NULL for none) for
// each row the statement's "upd" CTE changed, so an event is written
// exactly when, and in the same transaction as, its state change. Every
// state-changing statement takes its event as $1 so this text is shared.
const auditCTE = `aud AS (
` + auditInsert + `
	FROM upd, jsonb_populate_record(NULL::audit_events, $1::jsonb) AS r
	WHERE $1::jsonb IS NOT NULL
)`

// auditListCTE is auditCTE for several events, given in $1 as a jsonb
// array and appended in its order, so their ids keep it.
const auditListCTE = `aud AS (
` + auditInsert + `
	FROM upd, jsonb_populate_recordset(NULL::audit_events, $1::jsonb) WITH ORDINALITY AS r
	ORDER BY r.ordinality
)`

// auditRow is an event as jsonb_populate_record reads it. Every field is
// always present, as a missing one would become NULL.
type auditRow struct {
	Time         time.Time         `json:"time"`
	Action       string            `json:"action"`
	ActorKind    string            `json:"actor_kind"`
	ActorSubject string            `json:"actor_subject"`
	ActorClaims  map[string]string `json:"actor_claims"`
	Purpose      string            `json:"purpose"`
	LeaseID      string            `json:"lease_id"`
	Result       string            `json:"result"`
	Reason       string            `json:"reason"`
	TokenSHA256  string            `json:"token_sha256"`
	Upstream     string            `json:"upstream"`
}

// auditParam encodes e for auditCTE; a nil event is SQL NULL. A zero event
// time becomes now, the operation's time.
func auditParam(e *store.AuditEvent, now time.Time) (any, error) {
	if e == nil {
		return nil, nil
	}
	b, err := json.Marshal(newAuditRow(e, now))
	if err != nil {
		return nil, fmt.Errorf("pgstore: encode audit event: %w", err)
	}
	return string(b), nil
}

// auditListParam encodes the non-nil events for auditListCTE, each with
// its own fallback time.
func auditListParam(events []*store.AuditEvent, nows []time.Time) (string, error) {
	rows := make([]auditRow, 0, len(events))
	for i, e := range events {
		if e != nil {
			rows = append(rows, newAuditRow(e, nows[i]))
		}
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return "", fmt.Errorf("pgstore: encode audit events: %w", err)
	}
	return string(b), nil
}

func newAuditRow(e *store.AuditEvent, now time.Time) auditRow {
	t := e.Time
	if t.IsZero() {
		t = now
	}
	claims := e.ActorClaims
	if claims == nil {
		claims = map[string]string{}
	}
	return auditRow{
		// Truncated here because PostgreSQL rounds a textual time to the
		// microsecond, while binary parameters are truncated.
		Time: t.UTC().Truncate(time.Microsecond), Action: e.Action,
		ActorKind: e.ActorKind, ActorSubject: e.ActorSubject, ActorClaims: claims,
		Purpose: e.Purpose, LeaseID: e.LeaseID, Result: e.Result, Reason: e.Reason,
		TokenSHA256: e.TokenSHA256, Upstream: e.Upstream,
	}
}

const sqlInsertAudit = `INSERT INTO audit_events (time, action, actor_kind, actor_subject, actor_claims,
	purpose, lease_id, result, reason, token_sha256, upstream)
SELECT r.time, r.action, r.actor_kind, r.actor_subject, r.actor_claims,
	r.purpose, r.lease_id, r.result, r.reason, r.token_sha256, r.upstream
FROM jsonb_populate_record(NULL::audit_events, $1::jsonb) AS r
RETURNING id`

func (s *Store) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	id, err := s.appends.do(ctx, e)
	if err != nil {
		return fmt.Errorf("pgstore: append audit: %w", mapErr(err))
	}
	e.ID = id
	return nil
}

// appendAuditOne is AppendAudit's statement for one event.
func (s *Store) appendAuditOne(ctx context.Context, e *store.AuditEvent) (int64, error) {
	param, err := auditParam(e, e.Time)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.pool.QueryRow(ctx, sqlInsertAudit, param).Scan(&id)
	return id, err
}

// sqlInsertAudits inserts a jsonb array of events in array order, so ids
// follow it.
const sqlInsertAudits = `INSERT INTO audit_events (time, action, actor_kind, actor_subject, actor_claims,
	purpose, lease_id, result, reason, token_sha256, upstream)
SELECT r.time, r.action, r.actor_kind, r.actor_subject, r.actor_claims,
	r.purpose, r.lease_id, r.result, r.reason, r.token_sha256, r.upstream
FROM jsonb_populate_recordset(NULL::audit_events, $1::jsonb) WITH ORDINALITY AS r
ORDER BY r.ordinality
RETURNING id`

func (s *Store) AppendAudits(ctx context.Context, events []*store.AuditEvent) error {
	if err := s.appendAudits(ctx, events); err != nil {
		return fmt.Errorf("pgstore: append audits: %w", mapErr(err))
	}
	return nil
}

// appendAudits is AppendAudits with the driver's errors as they come.
func (s *Store) appendAudits(ctx context.Context, events []*store.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, e := range events {
		param, err := auditParam(e, e.Time)
		if err != nil {
			return err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(param.(string))
	}
	b.WriteByte(']')
	rows, err := s.pool.Query(ctx, sqlInsertAudits, b.String())
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	if len(ids) != len(events) {
		return fmt.Errorf("%d of %d rows written", len(ids), len(events))
	}
	// A single INSERT draws the serial in the order it inserts; RETURNING
	// promises no order, so sort to match.
	slices.Sort(ids)
	for i, e := range events {
		e.ID = ids[i]
	}
	return nil
}

const sqlListAudit = `SELECT id, time, action, actor_kind, actor_subject, actor_claims,
	purpose, lease_id, result, reason, token_sha256, upstream
FROM audit_events
WHERE ($1 = '' OR purpose = $1)
	AND ($2 = '' OR lease_id = $2)
	AND (NOT $3::boolean OR (actor_kind = $4 AND actor_subject = $5))
	AND ($6 = '' OR action = $6)
	AND ($7::timestamptz IS NULL OR time >= $7)
	AND ($8::bigint = 0 OR id < $8)
	AND ($10 = '' OR upstream = $10)
ORDER BY id DESC
LIMIT $9`

func (s *Store) ListAudit(ctx context.Context, p store.ListAuditParams) (*store.ListAuditResult, error) {
	if err := requireLimit(p.PageSize); err != nil {
		return nil, err
	}
	before, err := parseAuditCursor(p.After)
	if err != nil {
		return nil, err
	}
	var kind, subject string
	hasActor := p.Actor != ""
	if hasActor {
		var ok bool
		if kind, subject, ok = strings.Cut(p.Actor, ":"); !ok {
			return nil, fmt.Errorf("pgstore: audit actor filter %q: %w", p.Actor, errs.InvalidArgument)
		}
	}
	rows, err := s.pool.Query(ctx, sqlListAudit, p.Purpose, p.LeaseID, hasActor, kind, subject,
		p.Action, null(p.Since), before, p.PageSize+1, p.Upstream)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list audit: %w", mapErr(err))
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*store.AuditEvent, error) {
		var e store.AuditEvent
		err := r.Scan(&e.ID, &e.Time, &e.Action, &e.ActorKind, &e.ActorSubject, &e.ActorClaims,
			&e.Purpose, &e.LeaseID, &e.Result, &e.Reason, &e.TokenSHA256, &e.Upstream)
		e.Time = e.Time.UTC()
		if len(e.ActorClaims) == 0 {
			e.ActorClaims = nil
		}
		return &e, err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: list audit: %w", mapErr(err))
	}
	res := &store.ListAuditResult{Events: events}
	if len(events) > p.PageSize {
		res.Events = events[:p.PageSize]
		res.Next = auditCursor(res.Events[p.PageSize-1].ID)
	}
	return res, nil
}
