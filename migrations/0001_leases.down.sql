DROP TABLE lease_secrets;
DROP TABLE leases;
