DROP INDEX leases_proxy_credential_idx;
ALTER TABLE leases DROP COLUMN delivery;
