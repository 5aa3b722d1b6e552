package configcmd

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ztbroker/ztbroker/internal/cli/cmdtree"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// Where init points upstreams unless told otherwise.
const (
	centralURL = "https://central.zerotier.com"
	legacyURL  = "https://api.zerotier.com/api/v1"
)

func initCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "init [flags]",
		Short: "Write a commented starting configuration",
		Long: `Writes a configuration that "broker config check" accepts and "broker serve"
runs: one purpose, "deploy", on the chosen upstream, open to one API key
("ci", also the admin), optionally with an OIDC issuer, and idempotent replay
when a seal key is given. Secrets stay out of the file: the database URL and
the upstream credential are read from variables it names.

--seal-key-file and --api-key-file write a fresh random key each (mode 0600,
never over an existing file) and point the configuration at them; the API
key's file is what "broker token issue --api-key-file" reads, and only its
SHA-256 goes into the configuration.`,
		Example: `  broker config init > broker.yaml
  broker config init --upstream legacy --oidc github --out broker.yaml
  broker config init --upstream-url http://127.0.0.1:8089 --seal-key-file seal.key --api-key-file ci.key --out broker.yaml`,
		Args: cmdtree.NoArgs,
	}
	fs := c.Flags()
	fs.SortFlags = false
	up := fs.String("upstream", "new-central", "ZeroTier API to mint on: new-central or legacy")
	oidc := fs.String("oidc", "", "add an OIDC issuer and an example admission rule: github, gitlab or kubernetes")
	sealKey := fs.String("seal-key-file", "", "write a fresh seal key to this `file` (0600) and use it for idempotent replay")
	apiKey := fs.String("api-key-file", "", "write a fresh API key for \"ci\" to this `file` (0600) and put its SHA-256 in the configuration")
	baseURL := fs.String("upstream-url", "", "the upstream's base `URL` (default: ZeroTier's; the emulator's is http://127.0.0.1:8089)")
	account := fs.String("service-account", emulator.DefaultServiceAccount, "New Central service account `id` the purpose mints on")
	user := fs.String("legacy-user", "", "Legacy Central user `id` (default: discovered from the token)")
	grpcAddr := fs.String("grpc-addr", "127.0.0.1:9090", "gRPC listen `address`")
	httpAddr := fs.String("http-addr", "127.0.0.1:8080", "REST, metrics and health listen `address`")
	out := fs.String("out", "-", "write the configuration to this `file` (- for standard output); never over an existing file")
	c.RunE = func(c *cobra.Command, _ []string) error {
		d := starterData{GRPCAddr: *grpcAddr, HTTPAddr: *httpAddr, Upstream: *up, OIDC: *oidc, ServiceAccount: *account, LegacyUser: *user}
		switch *up {
		case "new-central":
			d.BaseURL = orDefault(*baseURL, centralURL)
		case "legacy":
			d.BaseURL = orDefault(*baseURL, legacyURL)
		default:
			return cmdtree.Usagef("config init: --upstream %q is not new-central or legacy", *up)
		}
		switch *oidc {
		case "", "github", "gitlab", "kubernetes":
		default:
			return cmdtree.Usagef("config init: --oidc %q is not github, gitlab or kubernetes", *oidc)
		}
		return write(c, d, *sealKey, *apiKey, *out)
	}
	return c
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// write makes the keys, then the configuration. Every file is created
// exclusively, so init never destroys a key in use.
func write(c *cobra.Command, d starterData, sealKey, apiKey, out string) error {
	for _, p := range []string{sealKey, apiKey, out} {
		if p != "" && p != "-" {
			if _, err := os.Lstat(p); err == nil {
				return cmdtree.Usagef("config init: %s exists; init never overwrites a file", p)
			}
		}
	}
	dir := "."
	if out != "-" {
		dir = filepath.Dir(out)
	}
	if sealKey != "" {
		key := base64.StdEncoding.EncodeToString(random(32))
		if err := createSecret(sealKey, key+"\n"); err != nil {
			return err
		}
		d.SealKeyFile = relativeTo(dir, sealKey)
	}
	if apiKey != "" {
		key := "ztb_" + rand.Text() + rand.Text()
		if err := createSecret(apiKey, key+"\n"); err != nil {
			return err
		}
		sum := sha256.Sum256([]byte(key))
		d.APIKeyFile, d.APIKeySHA256 = apiKey, hex.EncodeToString(sum[:])
	}
	var buf bytes.Buffer
	if err := starter.Execute(&buf, d); err != nil {
		return fmt.Errorf("config init: %w", err)
	}
	if out == "-" {
		_, err := c.OutOrStdout().Write(buf.Bytes())
		return err
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("config init: %w", err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("config init: %w", err)
	}
	return f.Close()
}

// createSecret writes a new file readable by its owner only.
func createSecret(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return cmdtree.Usagef("config init: %s exists; init never overwrites a key", path)
	}
	if err != nil {
		return fmt.Errorf("config init: %w", err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return fmt.Errorf("config init: write %s: %w", path, err)
	}
	return f.Close()
}

// relativeTo expresses path as the configuration, in dir, will resolve
// it: relative paths in the file are relative to the file.
func relativeTo(dir, path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return abs
	}
	if rel, err := filepath.Rel(absDir, abs); err == nil {
		return rel
	}
	return abs
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails: crypto/rand crashes the program instead
	return b
}
