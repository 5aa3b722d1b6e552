CREATE INDEX leases_upstream_live_idx ON leases (upstream, upstream_account)
    WHERE state IN ('pending', 'active', 'revoking', 'revoke_failed');

DROP INDEX audit_events_time_brin;
CREATE INDEX audit_events_time_idx ON audit_events (time);
