-- Back to one unpartitioned audit table, keeping every row and its id.
ALTER SEQUENCE audit_events_id_seq OWNED BY NONE;
CREATE TABLE audit_events_flat (
    id            bigint NOT NULL DEFAULT nextval('audit_events_id_seq'::regclass),
    time          timestamptz NOT NULL,
    action        text NOT NULL,
    actor_kind    text NOT NULL DEFAULT '',
    actor_subject text NOT NULL DEFAULT '',
    actor_claims  jsonb NOT NULL DEFAULT '{}'::jsonb,
    purpose       text NOT NULL DEFAULT '',
    lease_id      text COLLATE "C" NOT NULL DEFAULT '',
    result        text NOT NULL DEFAULT '',
    reason        text NOT NULL DEFAULT '',
    token_sha256  text NOT NULL DEFAULT ''
);
INSERT INTO audit_events_flat (id, time, action, actor_kind, actor_subject, actor_claims,
    purpose, lease_id, result, reason, token_sha256)
SELECT id, time, action, actor_kind, actor_subject, actor_claims,
    purpose, lease_id, result, reason, token_sha256
FROM audit_events ORDER BY id;

DROP TABLE audit_events;
DROP FUNCTION audit_partitions_maintain(timestamptz, integer, timestamptz);
DROP FUNCTION audit_partition_create(timestamptz);

ALTER TABLE audit_events_flat RENAME TO audit_events;
ALTER TABLE audit_events ADD PRIMARY KEY (id);
ALTER SEQUENCE audit_events_id_seq OWNED BY audit_events.id;

CREATE INDEX audit_events_lease_idx ON audit_events (lease_id, id) WHERE lease_id <> '';
CREATE INDEX audit_events_purpose_idx ON audit_events (purpose, id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_kind, actor_subject, id);
CREATE INDEX audit_events_action_idx ON audit_events (action, id);
CREATE INDEX audit_events_time_brin ON audit_events USING brin (time);

CREATE TRIGGER audit_events_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

DROP INDEX leases_ended_idx;
