package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ztbroker/ztbroker/internal/cli/cmdtree"
	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/server"
	"github.com/ztbroker/ztbroker/internal/store/migrate"
)

// configFlag registers --config, whose default is $BROKER_CONFIG at run
// time, and returns how to read the path.
func configFlag(c *cobra.Command, io IO) func() string {
	path := c.Flags().String("config", "", "configuration `file` (env BROKER_CONFIG); see docs/configuration.md")
	return func() string {
		if c.Flags().Changed("config") {
			return *path
		}
		return io.Getenv("BROKER_CONFIG")
	}
}

// loadConfig loads the file or reports why not, as a usage error: the
// command cannot start with it.
func loadConfig(name, path string) (*config.Config, error) {
	if path == "" {
		return nil, cmdtree.Usagef("%s: --config (or BROKER_CONFIG) is required", name)
	}
	cfg, err := server.LoadConfig(path, config.Options{})
	if err != nil {
		return nil, &cmdtree.UsageError{Msg: fmt.Sprintf("%s: invalid configuration:\n%v", name, err)}
	}
	return cfg, nil
}

func newLogger(cfg *config.Config, io IO) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Log.SlogLevel()}
	if cfg.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(io.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(io.Stderr, opts))
}

func serveCmd(io IO) *cobra.Command {
	c := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run the broker against PostgreSQL and ZeroTier",
		Long: `Runs the broker: gRPC on listen.grpc_addr, and REST, /metrics, /healthz,
/readyz and /openapi.json on listen.http_addr. It needs a migrated database
(broker migrate), the upstream credentials the configuration names, and stops
gracefully on SIGINT or SIGTERM; SIGHUP reloads TLS certificates. It logs the
effective configuration, secrets redacted, at start-up.

Exits 0 after a clean stop, 1 when it cannot start or fails, 2 when the
configuration is invalid.`,
		Example: `  broker serve --config /etc/ztbroker/broker.yaml
  BROKER_CONFIG=broker.yaml broker serve`,
		Args: cmdtree.NoArgs,
	}
	path := configFlag(c, io)
	cpuProfile := c.Flags().String("cpuprofile", "", "write a CPU profile of the whole run to this `file` (for benchmarks)")
	c.RunE = func(c *cobra.Command, _ []string) error {
		cfg, err := loadConfig("serve", path())
		if err != nil {
			return err
		}
		return cmdtree.Exit(serve(c.Context(), cfg, *cpuProfile, io))
	}
	return c
}

func serve(ctx context.Context, cfg *config.Config, cpuProfile string, io IO) int {
	log := newLogger(cfg, io)
	if cpuProfile != "" {
		stop, err := startCPUProfile(cpuProfile)
		if err != nil {
			log.Error("cpu profile", "err", err)
			return 1
		}
		defer stop()
	}
	log.Info("starting", "config", cfg)
	srv, err := server.Config{File: cfg, Logger: log, SIGHUP: sighup(ctx)}.Complete(ctx)
	if err != nil {
		log.Error("start failed", "err", err)
		return 1
	}
	if err := srv.Run(ctx); err != nil {
		log.Error("server stopped", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// sighup delivers SIGHUP as a channel until ctx ends, for certificate
// reloads.
func sighup(ctx context.Context) <-chan os.Signal {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	go func() {
		<-ctx.Done()
		signal.Stop(ch)
	}()
	return ch
}

func migrateCmd(io IO) *cobra.Command {
	c := &cobra.Command{
		Use:   "migrate --config FILE",
		Short: "Apply the database migrations and exit",
		Long: `Applies the migrations the binary embeds that the database lacks, under an
advisory lock, so that several replicas starting at once apply each once. Run
it as the role that owns the schema before starting (or upgrading) serve.
Exits 0 when the schema is current, 1 on a failure, 2 on a bad configuration.`,
		Example: `  broker migrate --config /etc/ztbroker/broker.yaml
  BROKER_DATABASE_URL=postgres://ztbroker_owner@/ztbroker?host=/var/run/postgresql broker migrate --config broker.yaml`,
		Args: cmdtree.NoArgs,
	}
	path := configFlag(c, io)
	c.RunE = func(c *cobra.Command, _ []string) error {
		cfg, err := loadConfig("migrate", path())
		if err != nil {
			return err
		}
		return cmdtree.Exit(migrateDB(c.Context(), cfg, io))
	}
	return c
}

func migrateDB(ctx context.Context, cfg *config.Config, io IO) int {
	log := newLogger(cfg, io)
	pool, err := server.OpenPool(ctx, cfg)
	if err != nil {
		log.Error("migrate failed", "err", err)
		return 1
	}
	defer pool.Close()
	n, err := migrate.Up(ctx, pool)
	if err != nil {
		log.Error("migrate failed", "err", err)
		return 1
	}
	log.Info("migrations applied", "count", n)
	return 0
}
