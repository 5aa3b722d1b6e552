// Package newcentral is the upstream.Issuer for the New Central API (v2):
// one service account, one API key per lease. Keys carry their own expiry
// upstream, so a key outlives its lease by at most the mint margin even if
// the broker never gets to revoke it.
//
// The v2 OpenAPI document could only be read through a third-party client
// generated from it, so every path is a configurable template.
package newcentral
