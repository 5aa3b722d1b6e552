-- Proxy delivery: a lease may hand out a broker credential instead of an
-- upstream token. Its SHA-256 sits in token_sha256 like a token's, and the
-- proxy looks the lease up by it on every call, so that a revocation or
-- an expiry takes effect on the next call, on every replica.
ALTER TABLE leases ADD COLUMN delivery text NOT NULL DEFAULT 'token'
    CHECK (delivery IN ('token', 'proxy'));

-- One lookup per proxied call. Unique, so a credential can only ever name
-- one lease; partial, so token leases and pending proxy leases (whose
-- hash is still empty) stay out of it.
CREATE UNIQUE INDEX leases_proxy_credential_idx ON leases (token_sha256)
    WHERE delivery = 'proxy' AND token_sha256 <> '';
