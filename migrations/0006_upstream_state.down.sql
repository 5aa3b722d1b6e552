DROP TABLE upstream_sightings;
DROP TABLE upstream_rotations;
DROP TABLE upstream_credentials;
