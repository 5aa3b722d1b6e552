// Package tlsreload serves TLS with a certificate and client CA pool that
// follow their files: rotate the files (cert-manager, SPIRE, a cron job)
// and new handshakes use them without a restart.
//
// Each handshake stats the files, which costs microseconds, and reloads
// when a modification time or size changed; Reload forces it (the broker
// calls it on SIGHUP). A reload that fails — say the certificate was
// written but not yet its key — keeps the previous material serving and is
// retried when the files change again, so a half-finished rotation never
// takes the listener down.
package tlsreload
