-- Leases: one row per minted (or about to be minted) upstream token. No
-- column ever holds a secret: only the token's SHA-256 and upstream id.
CREATE TABLE leases (
    id                   text COLLATE "C" PRIMARY KEY,
    purpose              text NOT NULL,
    owner                text NOT NULL,
    state                text NOT NULL CHECK (state IN
                             ('pending', 'active', 'revoking', 'revoked', 'failed', 'revoke_failed')),
    labels               jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(labels) = 'object'),
    upstream             text NOT NULL,
    upstream_account     text NOT NULL,
    upstream_token_id    text NOT NULL DEFAULT '',
    upstream_name        text NOT NULL DEFAULT '',
    upstream_expire_time timestamptz,
    token_sha256         text NOT NULL DEFAULT '',
    issue_time           timestamptz NOT NULL,
    expire_time          timestamptz NOT NULL,
    max_expire_time      timestamptz NOT NULL,
    revoke_reason        text NOT NULL DEFAULT '',
    revoked_by           text NOT NULL DEFAULT '',
    revoke_time          timestamptz,
    revoke_attempts      integer NOT NULL DEFAULT 0,
    next_attempt_at      timestamptz,
    last_error           text NOT NULL DEFAULT '',
    idempotency_key      text NOT NULL DEFAULT '',
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    -- A lease being revoked must always be due at some point, or the
    -- revocation worker would never see it again.
    CONSTRAINT leases_revoke_scheduled CHECK
        (state NOT IN ('revoking', 'revoke_failed') OR next_attempt_at IS NOT NULL),
    CONSTRAINT leases_expire_within_max CHECK (expire_time <= max_expire_time)
);

-- Idempotent issue: one lease per (owner, purpose, key) when a key is given.
CREATE UNIQUE INDEX leases_idempotency_key_idx
    ON leases (owner, purpose, idempotency_key) WHERE idempotency_key <> '';

-- ListLeases pages newest first (ids are UUIDv7, so id order is time order)
-- within an owner or a purpose; the primary key serves the unfiltered case.
CREATE INDEX leases_owner_id_idx ON leases (owner, id);
CREATE INDEX leases_purpose_id_idx ON leases (purpose, id);
CREATE INDEX leases_labels_idx ON leases USING gin (labels jsonb_path_ops);

-- ClaimDue and NextDueTime: expired actives, and revocations due a retry.
CREATE INDEX leases_active_expire_idx ON leases (expire_time) WHERE state = 'active';
CREATE INDEX leases_revoke_due_idx ON leases (next_attempt_at)
    WHERE state IN ('revoking', 'revoke_failed');

-- ClaimStalePending: mints that never finished.
CREATE INDEX leases_pending_created_idx ON leases (created_at) WHERE state = 'pending';

-- Quotas and CountActive: leases that hold a slot.
CREATE INDEX leases_holding_idx ON leases (purpose, owner) WHERE state IN ('pending', 'active');
-- Issue-rate quota: leases an owner created for a purpose in a window.
CREATE INDEX leases_issue_rate_idx ON leases (purpose, owner, created_at);

-- Reconciliation: every lease that may still have a token upstream.
CREATE INDEX leases_upstream_live_idx ON leases (upstream, upstream_account)
    WHERE state IN ('pending', 'active', 'revoking', 'revoke_failed');

-- Sealed secrets live apart from leases so erasing one is a DELETE, not an
-- UPDATE that leaves the old tuple's ciphertext behind in the lease row's
-- history. They are ciphertext only, kept for idempotent replay.
CREATE TABLE lease_secrets (
    lease_id     text COLLATE "C" PRIMARY KEY REFERENCES leases (id) ON DELETE CASCADE,
    sealed       bytea NOT NULL,
    sealed_until timestamptz NOT NULL
);

CREATE INDEX lease_secrets_sealed_until_idx ON lease_secrets (sealed_until);
