// Command docstore serves the MongoDB wire protocol on top of SQLite by embedding FerretDB.
//
// It exists for machines without Docker or a MongoDB server: the services talk to it
// exactly as they would to MongoDB. Clients reach FerretDB through the write gate (gate.go),
// which makes single-document writes atomic. It stops cleanly on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // only served with -pprof
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// durableAsMongoDB makes SQLite sync its write-ahead log at checkpoints rather than at every commit. A
// committed write survives a crash or kill -9 of the docstore (it is in the operating system's
// buffers) but not a power loss in the following moments: the durability of MongoDB's default
// write concern, whose journal is flushed every 100 ms. It halves the time of each write, and the
// docstore lets one write through at a time (gate.go), so it bounds the whole system's write rate.
const durableAsMongoDB = "_pragma=synchronous(normal)"

// gcPercent is the Go garbage collector's target unless GOGC is set: FerretDB allocates afresh for
// every document it decodes and encodes, and at Go's default (100) collecting took about 5 % of the
// docstore's CPU under the pipeline benchmark. Four times the live heap is a few tens of megabytes.
const gcPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dataDir := flag.String("data", "var/docstore", "directory holding the SQLite databases")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn or error")
	sqliteParams := flag.String("sqlite-params", durableAsMongoDB, "extra query parameters for the SQLite URI, added to FerretDB's defaults (WAL journal, busy timeout)")
	pprofAddr := flag.String("pprof", "", "serve Go profiles (net/http/pprof) on this loopback address; off when empty")
	indexEvery := flag.Duration("id-index-every", time.Second, "how often new collections get their _id lookup index (see idindex.go)")
	serialize := flag.Bool("serialize-writes", true, "let one write command at a time reach FerretDB, so single-document writes are atomic (see gate.go); false only to measure what that costs")
	pushdown := flag.Bool("conditional-pushdown", true, "check a conditional write of one document by _id in the gate and send FerretDB only the _id (see guarded.go); needs -serialize-writes; false only to measure what it saves")
	cacheMB := flag.Int("doc-cache-mb", 64, "megabytes of documents the gate keeps as the last write left them, to check guarded writes and answer finds by _id without FerretDB (see doccache.go); 0 for none; needs -serialize-writes")
	flag.Parse()
	if *pprofAddr != "" {
		go servePprof(*pprofAddr)
	}

	if err := run(*listen, *dataDir, *logLevel, *sqliteParams, *indexEvery, *serialize, *pushdown, *cacheMB); err != nil {
		fmt.Fprintln(os.Stderr, "docstore:", err)
		os.Exit(1)
	}
}

// run serves until a termination signal arrives and returns the first start-up error.
func run(listen, dataDir, logLevel, sqliteParams string, indexEvery time.Duration, serialize, pushdown bool, cacheMB int) error {
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

	public, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	defer public.Close()
	// FerretDB listens on a Unix socket in a directory only this user can enter, so every client
	// goes through the gate; the directory goes when the docstore stops
	socketDir, err := os.MkdirTemp("", "docstore-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(socketDir)
	socket := filepath.Join(socketDir, "ferretdb.sock")

	db, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{Unix: socket},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: sqliteURL(abs, sqliteParams),
	})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// FerretDB stops only after the gate has drained, so replies in flight still reach clients
	backendCtx, stopBackend := context.WithCancel(context.Background())
	gateCtx, stopGate := context.WithCancel(ctx)
	backendDone := make(chan struct{})
	go func() {
		defer close(backendDone)
		_ = db.Run(backendCtx) // returns nil, and only once backendCtx ends
		stopGate()
	}()

	go keepIDIndexes(ctx, abs, indexEvery, logger)
	logger.Warn("docstore listening", slog.String("listen", public.Addr().String()), slog.String("data", abs),
		slog.Bool("serialize_writes", serialize), slog.Bool("conditional_pushdown", serialize && pushdown),
		slog.Int("doc_cache_mb", cacheMB))
	dial := func() (net.Conn, error) { return net.Dial("unix", socket) }
	g := newGate(dial, serialize, pushdown, logger)
	if serialize {
		g.cache = newDocCache(cacheMB << 20)
	}
	g.serve(gateCtx, public)
	stopBackend()
	<-backendDone
	hits, misses := g.cache.counts()
	logger.Warn("docstore stopped", slog.Int64("doc_cache_hits", hits), slog.Int64("doc_cache_misses", misses))
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
