// Package leasegauge reports lease counts by purpose that are read from
// the store when Prometheus scrapes, so every replica reports the same,
// correct number instead of its own share. A short cache keeps a burst of
// scrapes from becoming a burst of queries.
package leasegauge
