package server

import (
	"errors"
	"regexp"
	"slices"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ztbroker/ztbroker/internal/config"
)

// secretConnKeys are the connection-string keys that hold a secret.
var secretConnKeys = []string{"password", "sslpassword"}

// notAllowedKey is how pgconn names a key ConnStringAllowedKeys refused.
var notAllowedKey = regexp.MustCompile(`connection string key "([^"]+)" is not in ConnStringAllowedKeys`)

// checkDatabaseURL refuses a secret written into database.url, which is
// logged and sits in the file: the file is for settings, url_env (or a
// passfile, or PGPASSWORD) for the password.
func checkDatabaseURL(c *config.Config, report config.Report) {
	if c.Database.URL == "" {
		return
	}
	if key, ok := secretKeyIn(c.Database.URL); ok {
		// Never echo the URL: it holds the secret.
		report("database.url", "must not contain a %s; use url_env, a passfile or PGPASSWORD", key)
	}
}

// secretKeyIn reports whether conn sets a secret key, in any form pgx
// accepts: a URL's user info or query, or keyword=value with or without
// spaces around the =, quoted or not. It asks pgx's own parser, allowing
// every key the string holds but the secrets one at a time: the parser
// names the first key it refuses, before it reads any file.
func secretKeyIn(conn string) (string, bool) {
	allowed := []string{}
	for range 100 {
		_, err := pgconn.ParseConfigWithOptions(conn, pgconn.ParseConfigOptions{ConnStringAllowedKeys: allowed})
		var pce *pgconn.ParseConfigError
		if err == nil || !errors.As(err, &pce) {
			return "", false
		}
		m := notAllowedKey.FindStringSubmatch(err.Error())
		if m == nil {
			// Unparseable: OpenPool says so at start-up, without the text.
			return "", false
		}
		if slices.Contains(secretConnKeys, m[1]) {
			return m[1], true
		}
		allowed = append(allowed, m[1])
	}
	return "", false
}
