package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/server"
	"github.com/ztbroker/ztbroker/internal/store/migrate"
)

// loadConfig parses the command's flags (--config, and whatever extra
// registers) and loads the configuration file.
func loadConfig(name string, args []string, io IO, extra func(*flag.FlagSet)) (*config.Config, *flag.FlagSet, int) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Stderr)
	if extra != nil {
		extra(fs)
	}
	path := fs.String("config", io.Getenv("BROKER_CONFIG"), "configuration file (env BROKER_CONFIG)")
	if err := fs.Parse(args); err != nil {
		return nil, nil, 2
	}
	if *path == "" {
		fmt.Fprintf(io.Stderr, "broker %s: --config is required\n", name)
		return nil, nil, 2
	}
	cfg, err := server.LoadConfig(*path, config.Options{})
	if err != nil {
		fmt.Fprintf(io.Stderr, "broker %s: invalid configuration:\n%v\n", name, err)
		return nil, nil, 2
	}
	return cfg, fs, 0
}

func newLogger(cfg *config.Config, io IO) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Log.SlogLevel()}
	if cfg.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(io.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(io.Stderr, opts))
}

func serve(ctx context.Context, args []string, io IO) int {
	var cpuProfile string
	cfg, _, code := loadConfig("serve", args, io, func(fs *flag.FlagSet) {
		fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (for benchmarks)")
	})
	if cfg == nil {
		return code
	}
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

func migrateCmd(ctx context.Context, args []string, io IO) int {
	cfg, _, code := loadConfig("migrate", args, io, nil)
	if cfg == nil {
		return code
	}
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
