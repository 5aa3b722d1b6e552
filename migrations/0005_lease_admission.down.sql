-- The per-owner index is stricter than the per-(owner, purpose) one it
-- replaced, so the old one always builds. Keys renamed by the up
-- migration stay renamed.
DROP INDEX leases_idempotency_key_idx;
CREATE UNIQUE INDEX leases_idempotency_key_idx
    ON leases (owner, purpose, idempotency_key) WHERE idempotency_key <> '';

ALTER TABLE leases
    DROP COLUMN owner_claims,
    DROP COLUMN requested_ttl,
    DROP COLUMN granted_max_ttl,
    DROP COLUMN admitted_by;
