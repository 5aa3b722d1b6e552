-- Upstreams have names now, any number of each kind, so that one broker
-- serves several ZeroTier organisations. leases.upstream holds the name
-- of the upstream a lease's token lives on (revocation goes there), and
-- its API moves to upstream_kind.
--
-- Rows written before held the kind in leases.upstream. The older
-- configuration form names each upstream after its kind (new_central,
-- legacy), so those rows already name their upstream and only the kind
-- needs copying.
ALTER TABLE leases ADD COLUMN upstream_kind text;
UPDATE leases SET upstream_kind = upstream;
ALTER TABLE leases ALTER COLUMN upstream_kind SET NOT NULL;
