// Command docstore serves the MongoDB wire protocol on top of SQLite by embedding FerretDB.
//
// It exists for machines without Docker or a MongoDB server: the services talk to it
// exactly as they would to MongoDB. It stops cleanly on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // only served with -pprof
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dataDir := flag.String("data", "var/docstore", "directory holding the SQLite databases")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn or error")
	sqliteParams := flag.String("sqlite-params", "", "extra query parameters for the SQLite URI (FerretDB's defaults when empty)")
	pprofAddr := flag.String("pprof", "", "serve Go profiles (net/http/pprof) on this loopback address; off when empty")
	indexEvery := flag.Duration("id-index-every", time.Second, "how often new collections get their _id lookup index (see idindex.go)")
	flag.Parse()
	if *pprofAddr != "" {
		go servePprof(*pprofAddr)
	}

	if err := run(*listen, *dataDir, *logLevel, *sqliteParams, *indexEvery); err != nil {
		fmt.Fprintln(os.Stderr, "docstore:", err)
		os.Exit(1)
	}
}

// run serves until a termination signal arrives and returns the first start-up error.
func run(listen, dataDir, logLevel, sqliteParams string, indexEvery time.Duration) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("bad -log-level %q: %w", logLevel, err)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return fmt.Errorf("data directory %q: %w", dataDir, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return fmt.Errorf("create data directory %q: %w", abs, err)
	}
	if err := setAsideEmptyDatabases(abs, logger); err != nil {
		return fmt.Errorf("check data directory %q: %w", abs, err)
	}
	if removed, err := removeOrphanJournals(abs); err != nil {
		return fmt.Errorf("clean data directory %q: %w", abs, err)
	} else if len(removed) > 0 {
		logger.Warn("removed journals of dropped databases", slog.Int("files", len(removed)))
	}

	db, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: sqliteURL(abs, sqliteParams),
	})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	go keepIDIndexes(ctx, abs, indexEvery, logger)
	logger.Warn("docstore listening", slog.String("listen", listen), slog.String("data", abs))
	if err := db.Run(ctx); err != nil {
		return err
	}
	logger.Warn("docstore stopped")
	return nil
}

// sqliteURL returns FerretDB's SQLite directory URI with optional extra query parameters.
func sqliteURL(dir, params string) string {
	if params == "" {
		return "file:" + dir + "/"
	}
	return "file:" + dir + "/?" + params
}

// servePprof serves net/http/pprof for profiling the docstore under load (see README, Benchmarks).
func servePprof(addr string) {
	server := &http.Server{Addr: addr, ReadHeaderTimeout: 5 * time.Second}
	if err := server.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "docstore: pprof:", err)
	}
}
