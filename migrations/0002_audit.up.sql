-- The audit trail is append-only: the triggers below refuse to change or
-- remove a row, so even a compromised broker role cannot rewrite history
-- without also altering the schema.
CREATE TABLE audit_events (
    id            bigserial PRIMARY KEY,
    time          timestamptz NOT NULL,
    action        text NOT NULL,
    actor_kind    text NOT NULL DEFAULT '',
    actor_subject text NOT NULL DEFAULT '',
    actor_claims  jsonb NOT NULL DEFAULT '{}'::jsonb,
    purpose       text NOT NULL DEFAULT '',
    -- No foreign key: the trail must outlive leases and also records
    -- requests for leases that never existed.
    lease_id      text COLLATE "C" NOT NULL DEFAULT '',
    result        text NOT NULL DEFAULT '',
    reason        text NOT NULL DEFAULT '',
    token_sha256  text NOT NULL DEFAULT ''
);

CREATE INDEX audit_events_lease_idx ON audit_events (lease_id, id) WHERE lease_id <> '';
CREATE INDEX audit_events_purpose_idx ON audit_events (purpose, id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_kind, actor_subject, id);
CREATE INDEX audit_events_action_idx ON audit_events (action, id);
CREATE INDEX audit_events_time_idx ON audit_events (time);

CREATE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_events_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
