ALTER TABLE audit_events DROP COLUMN upstream;

-- Back to one upstream per kind: leases.upstream holds the kind again.
-- A lease of an upstream not named after its kind (prod, staging) then
-- points at the kind's only upstream; a broker whose upstream of that
-- kind does not hold the lease's account finds no issuer and keeps the
-- lease in revoke_failed rather than call it revoked.
UPDATE leases SET upstream = upstream_kind WHERE upstream <> upstream_kind AND upstream_kind <> '';
ALTER TABLE leases DROP COLUMN upstream_kind;
