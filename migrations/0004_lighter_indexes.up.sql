-- Every lease cycle appends three audit rows and writes three lease rows
-- that update no index in place (a state change is never HOT), so each
-- index here is paid three times a cycle. Two of them earned less than
-- they cost.

-- The audit trail is append-only and its time only grows, so a BRIN
-- index (a summary per range of pages, maintained at vacuum) answers
-- "since" filters for a sliver of a B-tree's upkeep.
DROP INDEX audit_events_time_idx;
CREATE INDEX audit_events_time_brin ON audit_events USING brin (time);

-- Reconciliation reads an account's live leases every few minutes. The
-- partial indexes of the pending, active and revoking states already
-- cover every live lease between them, so it reads those instead, and
-- issuing and activating a lease write two index entries fewer.
DROP INDEX leases_upstream_live_idx;
