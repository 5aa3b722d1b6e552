-- What the broker keeps about each upstream beyond its leases. "upstream"
-- is the upstream's name as metrics and audit events show it.

-- The admin key the broker rotated to, sealed with the seal key (never in
-- clear). No row: the upstream uses the key its configuration names.
CREATE TABLE upstream_credentials (
    upstream    text COLLATE "C" PRIMARY KEY,
    key_id      text NOT NULL CHECK (key_id <> ''),
    account     text NOT NULL,
    key_sha256  text NOT NULL,
    -- The configured key this one replaced, directly or through earlier
    -- rotations: while the configuration still names it, the stored key
    -- wins; a configuration naming any other key supersedes it.
    config_sha256 text NOT NULL DEFAULT '',
    sealed      bytea NOT NULL,
    expires     timestamptz,
    rotation_id text COLLATE "C" NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- Rotations of an admin key. The row is written before the new key is
-- minted, so a crash at any step leaves a record the next replica finishes
-- or undoes. new_sealed holds the new key only between minted and
-- switched; afterwards it lives in upstream_credentials alone.
CREATE TABLE upstream_rotations (
    id           text COLLATE "C" PRIMARY KEY,
    upstream     text COLLATE "C" NOT NULL,
    state        text NOT NULL CHECK (state IN ('started', 'minted', 'switched', 'done', 'failed')),
    account      text NOT NULL,
    description  text NOT NULL,
    old_key_id   text NOT NULL DEFAULT '',
    old_sha256   text NOT NULL DEFAULT '',
    new_key_id   text NOT NULL DEFAULT '',
    new_sha256   text NOT NULL DEFAULT '',
    new_sealed   bytea,
    new_expires  timestamptz,
    requested_by text NOT NULL,
    reason       text NOT NULL DEFAULT '',
    error        text NOT NULL DEFAULT '',
    started_at   timestamptz NOT NULL,
    minted_at    timestamptz,
    switched_at  timestamptz,
    retire_after timestamptz,
    finished_at  timestamptz,
    CONSTRAINT upstream_rotations_sealed_only_while_minted
        CHECK (new_sealed IS NULL OR state = 'minted'),
    CONSTRAINT upstream_rotations_key_once_minted
        CHECK (state IN ('started', 'failed') OR new_key_id <> '')
);

-- Two replicas never rotate the same upstream at once: besides the
-- advisory lock, at most one rotation per upstream is open.
CREATE UNIQUE INDEX upstream_rotations_one_open_idx ON upstream_rotations (upstream)
    WHERE state IN ('started', 'minted', 'switched');
CREATE INDEX upstream_rotations_upstream_idx ON upstream_rotations (upstream, id);

-- Credentials and service accounts seen upstream that the broker did not
-- make: each is reported once, whichever replica sees it first.
CREATE TABLE upstream_sightings (
    upstream   text COLLATE "C" NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('key', 'service_account')),
    account    text COLLATE "C" NOT NULL DEFAULT '',
    id         text COLLATE "C" NOT NULL,
    created    timestamptz,
    first_seen timestamptz NOT NULL,
    PRIMARY KEY (upstream, kind, account, id)
);
