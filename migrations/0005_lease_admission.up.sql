-- Each lease records how its caller was admitted, so that replay and
-- renewal can hold a caller to what it was granted: the admitting source
-- ("api_keys", "subjects" or a rule name), the longest life it granted,
-- the TTL the request asked for (zero: the purpose's default), and the
-- OIDC claim values that made up the owner. Leases issued before this
-- migration keep the defaults, which mean "not recorded".
ALTER TABLE leases
    ADD COLUMN admitted_by     text NOT NULL DEFAULT '',
    ADD COLUMN granted_max_ttl interval NOT NULL DEFAULT '0',
    ADD COLUMN requested_ttl   interval NOT NULL DEFAULT '0',
    ADD COLUMN owner_claims    jsonb NOT NULL DEFAULT '{}'::jsonb
        CHECK (jsonb_typeof(owner_claims) = 'object');

-- Idempotency keys become unique per owner instead of per (owner,
-- purpose): a key reused for another purpose must find the first lease
-- and be refused, not mint a second token. Where an owner had already
-- reused a key across purposes, the newest lease keeps it and the older
-- ones get their purpose appended, so the unique index can be built; a
-- retry with such an older key then issues a new lease.
UPDATE leases l
SET idempotency_key = l.idempotency_key || ' [' || l.purpose || ', before migration 4]'
FROM (
    SELECT id, row_number() OVER (PARTITION BY owner, idempotency_key ORDER BY created_at DESC, id DESC) AS n
    FROM leases
    WHERE idempotency_key <> ''
) ranked
WHERE l.id = ranked.id AND ranked.n > 1;

DROP INDEX leases_idempotency_key_idx;
CREATE UNIQUE INDEX leases_idempotency_key_idx
    ON leases (owner, idempotency_key) WHERE idempotency_key <> '';
