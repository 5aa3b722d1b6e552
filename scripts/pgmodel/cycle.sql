-- The lease cycle's three statements as the broker sends them alone (no
-- grouping): create with its issue audit row, activate with its audit row,
-- and the explicit revoke with its two. One pgbench transaction is one
-- cycle.
\set n random(1, 1000000000)
\set k random(1, 1000000000)
WITH upd AS (
 INSERT INTO leases (id, purpose, owner, state, labels, upstream, upstream_account, upstream_name, issue_time, expire_time, max_expire_time, idempotency_key, admitted_by, granted_max_ttl, requested_ttl, owner_claims, created_at, updated_at, delivery, upstream_kind)
 VALUES ('01a2-' || (:n)::text || '-' || (:k)::text, 'bench', 'api_key' || chr(58) || 'loadgen', 'pending', '{}', 'new_central', 'sa-emulator', 'ztbroker-bench-01a2-' || (:n)::text, now(), now() + interval '15m', now() + interval '24h', '', 'loadgen', '24h', '15m', '{}', now(), now(), 'token', 'new_central')
 RETURNING *
), aud AS (
 INSERT INTO audit_events (time, action, actor_kind, actor_subject, actor_claims, purpose, lease_id, result, reason, token_sha256, upstream)
 SELECT r.time, r.action, r.actor_kind, r.actor_subject, r.actor_claims, COALESCE(NULLIF(r.purpose, ''), upd.purpose), COALESCE(NULLIF(r.lease_id, ''), upd.id::text), r.result, r.reason, r.token_sha256, COALESCE(NULLIF(r.upstream, ''), upd.upstream)
 FROM upd, jsonb_populate_record(NULL::audit_events, ('{"time":"' || now() || '","action":"issue","actor_kind":"api_key","actor_subject":"loadgen","actor_claims":{},"purpose":"","lease_id":"","result":"ok","reason":"","token_sha256":"","upstream":""}')::jsonb) AS r
)
SELECT * FROM upd;
WITH upd AS (
 UPDATE leases SET state = 'active', upstream_token_id = 'key-' || (:n)::text, token_sha256 = md5((:n)::text) || md5((:k)::text), upstream_expire_time = now() + interval '15m', issue_time = now(), updated_at = now()
 WHERE id = '01a2-' || (:n)::text || '-' || (:k)::text AND state = 'pending' RETURNING *
), aud AS (
 INSERT INTO audit_events (time, action, actor_kind, actor_subject, actor_claims, purpose, lease_id, result, reason, token_sha256, upstream)
 SELECT r.time, r.action, r.actor_kind, r.actor_subject, r.actor_claims, COALESCE(NULLIF(r.purpose, ''), upd.purpose), COALESCE(NULLIF(r.lease_id, ''), upd.id::text), r.result, r.reason, r.token_sha256, COALESCE(NULLIF(r.upstream, ''), upd.upstream)
 FROM upd, jsonb_populate_record(NULL::audit_events, ('{"time":"' || now() || '","action":"activate","actor_kind":"system","actor_subject":"broker","actor_claims":{},"purpose":"","lease_id":"","result":"ok","reason":"","token_sha256":"abc","upstream":""}')::jsonb) AS r
)
SELECT * FROM upd;
WITH upd AS (
 UPDATE leases SET state = 'revoked', revoke_reason = 'by caller', revoked_by = 'api_key' || chr(58) || 'loadgen', revoke_time = now(), next_attempt_at = NULL, updated_at = now()
 WHERE id = '01a2-' || (:n)::text || '-' || (:k)::text AND state = 'active' RETURNING *
), aud AS (
 INSERT INTO audit_events (time, action, actor_kind, actor_subject, actor_claims, purpose, lease_id, result, reason, token_sha256, upstream)
 SELECT r.time, r.action, r.actor_kind, r.actor_subject, r.actor_claims, COALESCE(NULLIF(r.purpose, ''), upd.purpose), COALESCE(NULLIF(r.lease_id, ''), upd.id::text), r.result, r.reason, r.token_sha256, COALESCE(NULLIF(r.upstream, ''), upd.upstream)
 FROM upd, jsonb_populate_recordset(NULL::audit_events, ('[{"time":"' || now() || '","action":"revoke","actor_kind":"api_key","actor_subject":"loadgen","actor_claims":{},"purpose":"","lease_id":"","result":"ok","reason":"x","token_sha256":"","upstream":""},{"time":"' || now() || '","action":"revoke_complete","actor_kind":"system","actor_subject":"revoker","actor_claims":{},"purpose":"","lease_id":"","result":"ok","reason":"x","token_sha256":"abc","upstream":""}]')::jsonb) WITH ORDINALITY AS r ORDER BY r.ordinality
)
SELECT * FROM upd;
