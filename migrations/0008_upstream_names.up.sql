-- Upstreams have names now, any number of each kind, so that one broker
-- serves several ZeroTier organisations. leases.upstream holds the name
-- of the upstream a lease's token lives on (revocation goes there), and
-- its API moves to upstream_kind.
--
-- Rows written before held the kind in leases.upstream. The older
-- configuration form names each upstream after its kind (new_central,
-- legacy), so those rows already name their upstream and only the kind
-- needs copying. The default keeps a replica that predates this column
-- issuing during a rolling upgrade; the kind is for reading only (the
-- name and account find a lease's issuer), so its leases lose nothing.
ALTER TABLE leases ADD COLUMN upstream_kind text NOT NULL DEFAULT '';
UPDATE leases SET upstream_kind = upstream WHERE upstream IN ('new_central', 'legacy');

-- Audit events name the upstream they concern: a lease's, or the one a
-- rotation or guard event is about. Earlier events are left empty rather
-- than guessed.
ALTER TABLE audit_events ADD COLUMN upstream text NOT NULL DEFAULT '';
