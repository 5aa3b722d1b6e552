package server

import "testing"

// TestSecretKeyIn covers every connection-string form pgx accepts; the
// spaced keyword form used to get past a split on whitespace.
func TestSecretKeyIn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		conn string
		want string
	}{
		{"postgres://broker:hunter2@db/ztbroker", "password"},
		{"postgresql://broker:hunter2@db:5432/ztbroker?sslmode=require", "password"},
		{"postgres://broker@db/ztbroker?password=hunter2", "password"},
		{"postgres://broker@db/ztbroker?application_name=x&sslpassword=k", "sslpassword"},
		{"host=db user=broker password=hunter2", "password"},
		{"host=db user=broker password = hunter2", "password"},
		{"host=db user=broker password ='hunter 2'", "password"},
		{"host=db   password\t=\thunter2  dbname=x", "password"},
		{"user=broker sslpassword=k sslkey=/k", "sslpassword"},
		{"postgres://broker@db/ztbroker", ""},
		{"postgres://broker@db/ztbroker?sslmode=verify-full&application_name=broker&search_path=zt", ""},
		{"host=db user=broker dbname=ztbroker passfile=/run/pgpass", ""},
		{"host=db user=broker application_name='pass word'", ""},
		{"not a connection string = =", ""},
	}
	for _, tt := range tests {
		if got, ok := secretKeyIn(tt.conn); got != tt.want || ok != (tt.want != "") {
			t.Errorf("secretKeyIn(%q) = %q, %v; want %q", tt.conn, got, ok, tt.want)
		}
	}
}

// TestSecretKeyInIgnoresEnvironment: a password that pgx would take from
// PGPASSWORD is not in the file, and is fine.
func TestSecretKeyInIgnoresEnvironment(t *testing.T) {
	t.Setenv("PGPASSWORD", "from-the-environment")
	if key, ok := secretKeyIn("host=db user=broker dbname=ztbroker"); ok {
		t.Errorf("secretKeyIn found %q in a string without one", key)
	}
}
