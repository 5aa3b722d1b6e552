-- Retention. Leases that ended are deleted some time after they ended
-- (see internal/worker/retention), and the audit trail moves to monthly
-- partitions so that history past its retention leaves by dropping a
-- whole month, never by deleting rows.

-- The retention worker finds ended leases by the time they ended. Only
-- final rows enter this index, once each, when they reach their final
-- state.
CREATE INDEX leases_ended_idx ON leases (updated_at) WHERE state IN ('revoked', 'failed');

-- The audit table is rebuilt as a table partitioned by month of "time".
-- The old table is renamed, its rows copied with their ids, and dropped.
-- The id sequence is kept, so ids stay unique and keep growing.
ALTER TABLE audit_events RENAME TO audit_events_unpartitioned;
ALTER TABLE audit_events_unpartitioned RENAME CONSTRAINT audit_events_pkey TO audit_events_unpartitioned_pkey;
DROP INDEX audit_events_lease_idx, audit_events_purpose_idx, audit_events_actor_idx,
    audit_events_action_idx, audit_events_time_brin;
ALTER SEQUENCE audit_events_id_seq OWNED BY NONE;

CREATE TABLE audit_events (
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
) PARTITION BY RANGE (time);
ALTER SEQUENCE audit_events_id_seq OWNED BY audit_events.id;

-- Row triggers on a partitioned table are cloned onto every partition,
-- present and future, so UPDATE and DELETE stay refused on each of them.
-- TRUNCATE triggers are not cloned: audit_partition_create adds one to
-- each partition it makes.
CREATE TRIGGER audit_events_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- The catch-all partition. Inserts must never fail, whatever the clock
-- says and whether or not the worker has run lately, so an event whose
-- month has no partition lands here. The worker makes months ahead so
-- this stays empty, and moves anything found here into its own month, so
-- that every event still leaves only with the month it belongs to.
CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT;
CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events_default
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- audit_partition_create makes the partition of the month holding m (in
-- UTC), named audit_events_YYYY_MM, unless it exists. It returns whether
-- it made one. The caller must hold the partition lock and have moved
-- any of that month's rows out of the default partition.
CREATE FUNCTION audit_partition_create(m timestamptz) RETURNS boolean
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    lo   timestamptz := date_trunc('month', m, 'UTC');
    hi   timestamptz := date_trunc('month', m, 'UTC') + interval '1 month';
    name text := 'audit_events_' || to_char(m AT TIME ZONE 'UTC', 'YYYY_MM');
BEGIN
    IF to_regclass(name) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
    EXECUTE format('CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON %I '
        'FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()', name);
    RETURN true;
END;
$$;
REVOKE ALL ON FUNCTION audit_partition_create(timestamptz) FROM PUBLIC;

-- audit_partitions_maintain is the one way partitions change after this
-- migration. It runs as the schema's owner (SECURITY DEFINER), so the
-- broker's role needs no DDL rights, and it does only this:
--   1. moves rows found in the default partition into their months;
--   2. makes the partitions of the months from p_now to p_ahead months
--      later;
--   3. detaches and drops every monthly partition whose month ended at or
--      before p_keep_since, appending an audit event that names it, its
--      range and its row count, in the same transaction.
-- It refuses a p_keep_since later than 31 days before the database's own
-- clock, so a caller cannot empty recent history. One replica at a time
-- does the work; the others get a single row with action 'busy'.
CREATE FUNCTION audit_partitions_maintain(p_now timestamptz, p_ahead integer, p_keep_since timestamptz)
RETURNS TABLE (r_action text, r_partition text, r_from timestamptz, r_to timestamptz, r_rows bigint,
    r_event_id bigint, r_reason text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    m     timestamptz;
    n     bigint;
    part  record;
    month_lo timestamptz;
BEGIN
    IF p_ahead IS NULL OR p_ahead < 1 OR p_ahead > 24 THEN
        RAISE EXCEPTION 'audit_partitions_maintain: p_ahead must be between 1 and 24, got %', p_ahead
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_keep_since IS NOT NULL AND p_keep_since > now() - interval '31 days' THEN
        RAISE EXCEPTION 'audit_partitions_maintain: refusing to drop history newer than 31 days (keep since %)', p_keep_since
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- 0x7a7462726f6b6572 is the migration lock; this is its neighbour.
    IF NOT pg_try_advisory_xact_lock(8824977521707232115) THEN
        r_action := 'busy';
        RETURN NEXT;
        RETURN;
    END IF;
    -- Partition DDL locks audit_events against every insert until commit:
    -- rather than queue behind a long transaction (and make inserts queue
    -- behind us), give up and let the next pass try again.
    PERFORM set_config('lock_timeout', '5s', true);

    -- 1. Rows in the default partition. Their months cannot be created
    -- while the rows sit there, so the default is detached, replaced by
    -- an empty one, and its rows re-inserted once their months exist.
    IF EXISTS (SELECT 1 FROM audit_events_default) THEN
        ALTER TABLE audit_events DETACH PARTITION audit_events_default;
        ALTER TABLE audit_events_default RENAME TO audit_events_default_moving;
        CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT;
        CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events_default
            FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
        FOR m IN SELECT DISTINCT date_trunc('month', time, 'UTC') FROM audit_events_default_moving LOOP
            IF audit_partition_create(m) THEN
                r_action := 'created'; r_partition := 'audit_events_' || to_char(m AT TIME ZONE 'UTC', 'YYYY_MM');
                r_from := m; r_to := m + interval '1 month'; r_rows := 0;
                RETURN NEXT;
            END IF;
        END LOOP;
        INSERT INTO audit_events SELECT * FROM audit_events_default_moving;
        GET DIAGNOSTICS n = ROW_COUNT;
        DROP TABLE audit_events_default_moving;
        r_action := 'moved'; r_partition := 'audit_events_default'; r_from := NULL; r_to := NULL; r_rows := n;
        RETURN NEXT;
    END IF;

    -- 2. Months ahead.
    FOR i IN 0..p_ahead LOOP
        m := date_trunc('month', p_now, 'UTC') + make_interval(months => i);
        IF audit_partition_create(m) THEN
            r_action := 'created'; r_partition := 'audit_events_' || to_char(m AT TIME ZONE 'UTC', 'YYYY_MM');
            r_from := m; r_to := m + interval '1 month'; r_rows := 0;
            RETURN NEXT;
        END IF;
    END LOOP;

    -- 3. Months past retention. A partition's month is read from its
    -- name, which only audit_partition_create gives.
    IF p_keep_since IS NULL THEN
        RETURN;
    END IF;
    FOR part IN
        SELECT c.relname::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'audit_events'::regclass AND c.relname ~ '^audit_events_[0-9]{4}_[0-9]{2}$'
        ORDER BY c.relname
    LOOP
        month_lo := make_timestamptz(substr(part.name, 14, 4)::int, substr(part.name, 19, 2)::int, 1, 0, 0, 0, 'UTC');
        CONTINUE WHEN month_lo + interval '1 month' > p_keep_since;
        EXECUTE format('SELECT count(*) FROM %I', part.name) INTO n;
        EXECUTE format('ALTER TABLE audit_events DETACH PARTITION %I', part.name);
        EXECUTE format('DROP TABLE %I', part.name);
        r_reason := format('dropped partition %s holding %s events from [%s, %s)', part.name, n,
            to_char(month_lo AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
            to_char((month_lo + interval '1 month') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
        INSERT INTO audit_events (time, action, actor_kind, actor_subject, result, reason)
        VALUES (p_now, 'audit_partition_drop', 'system', 'retention', 'ok', r_reason)
        RETURNING id INTO r_event_id;
        r_action := 'dropped'; r_partition := part.name; r_from := month_lo;
        r_to := month_lo + interval '1 month'; r_rows := n;
        RETURN NEXT;
    END LOOP;
END;
$$;
-- Only the schema's owner runs it unless granted: GRANT EXECUTE ON
-- FUNCTION audit_partitions_maintain(timestamptz, integer, timestamptz)
-- TO the broker's role when that is another role.
REVOKE ALL ON FUNCTION audit_partitions_maintain(timestamptz, integer, timestamptz) FROM PUBLIC;

-- Existing installations: one partition per month that holds events, the
-- months ahead, then every row, ids and all.
DO $$
DECLARE
    m timestamptz;
BEGIN
    FOR m IN SELECT DISTINCT date_trunc('month', time, 'UTC') FROM audit_events_unpartitioned LOOP
        PERFORM audit_partition_create(m);
    END LOOP;
    FOR i IN 0..3 LOOP
        PERFORM audit_partition_create(date_trunc('month', now(), 'UTC') + make_interval(months => i));
    END LOOP;
END;
$$;

INSERT INTO audit_events (id, time, action, actor_kind, actor_subject, actor_claims,
    purpose, lease_id, result, reason, token_sha256)
SELECT id, time, action, actor_kind, actor_subject, actor_claims,
    purpose, lease_id, result, reason, token_sha256
FROM audit_events_unpartitioned;

-- Keys and indexes are built once the rows are in, which is several times
-- faster than maintaining them row by row during the copy. A partitioned
-- table's keys must hold the partition key.
ALTER TABLE audit_events ADD PRIMARY KEY (id, time);
CREATE INDEX audit_events_lease_idx ON audit_events (lease_id, id) WHERE lease_id <> '';
CREATE INDEX audit_events_purpose_idx ON audit_events (purpose, id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_kind, actor_subject, id);
CREATE INDEX audit_events_action_idx ON audit_events (action, id);
CREATE INDEX audit_events_time_brin ON audit_events USING brin (time);

DROP TABLE audit_events_unpartitioned;
