// Package cli picks the broker subcommand and hands it a root context that
// ends on SIGINT or SIGTERM. Each subcommand's work lives in the package
// responsible for it; this package only parses and dispatches.
package cli
