// Package cli is the broker binary's command tree, built on cobra: the
// root, the server commands (serve, migrate, dev, healthcheck), version
// and completion, with the client commands (clientcmd), the configuration
// tools (configcmd), the policy dry-run (policycmd) and the emulator
// (emulatorcmd) beneath it. cmd/broker calls Main and exits with its code.
package cli
