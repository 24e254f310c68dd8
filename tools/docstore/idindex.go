package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"
)

// idLookupSuffix names the index ensureIDIndexes adds to every collection table.
const idLookupSuffix = "_id_lookup"

// FerretDB v1.24's SQLite backend pushes an exact `_id` filter down as
// `WHERE _ferretdb_sjson->'$._id' = ?`, but the unique `_id` index it creates is on
// `_ferretdb_sjson->"_id"`. SQLite matches index expressions by their text, so the
// filter never uses that index and every lookup by `_id` scans the whole table
// (about 50 ms at 30,000 documents here, growing linearly). An index on the exact
// expression the filter uses turns those lookups into index searches. FerretDB keeps
// its own index list in its metadata table, so it neither sees nor drops this one;
// dropping the collection drops the table and the index with it.

// ensureIDIndexes adds the `_id` lookup index to every collection table that lacks it in every
// database file of dir; it returns how many indexes it created and the first error. A file that
// fails (typically busy) does not hold up the others; it is tried again at the next sweep.
func ensureIDIndexes(ctx context.Context, dir string) (int, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.sqlite"))
	if err != nil {
		return 0, err
	}
	created := 0
	var first error
	for _, file := range files {
		n, err := ensureIDIndexesIn(ctx, file)
		created += n
		if err != nil && first == nil {
			first = fmt.Errorf("%s: %w", file, err)
		}
	}
	return created, first
}

// ensureIDIndexesIn adds the lookup index to the tables of one database file that lack it.
//
// The file is opened read-write but never created (mode=rw): a database dropped meanwhile
// is simply gone. FerretDB's own connections wait for the short write lock (their busy_timeout);
// this one waits at most a quarter second, so a busy database is left for the next sweep.
func ensureIDIndexesIn(ctx context.Context, file string) (int, error) {
	db, err := sql.Open("sqlite", "file:"+file+"?mode=rw&_pragma=busy_timeout(250)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT c.table_name FROM _ferretdb_collections c
		WHERE NOT EXISTS (SELECT 1 FROM sqlite_master m WHERE m.type = 'index' AND m.name = c.table_name || ?)`,
		idLookupSuffix)
	if err != nil {
		return 0, nil // not a FerretDB database yet (or gone): try again at the next sweep
	}
	var tables []string
	for rows.Next() {
		var table string
		if err := rows.Scan(&table); err != nil {
			rows.Close()
			return 0, err
		}
		tables = append(tables, table)
	}
	rows.Close()
	created := 0
	for _, table := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, table+idLookupSuffix, table)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return created, fmt.Errorf("index %s: %w", table, err)
		}
		created++
	}
	return created, nil
}

// keepIDIndexes runs ensureIDIndexes at once and then every interval until ctx ends; errors are logged.
func keepIDIndexes(ctx context.Context, dir string, every time.Duration, logger *slog.Logger) {
	for {
		n, err := ensureIDIndexes(ctx, dir)
		if err != nil && ctx.Err() == nil {
			logger.Info("adding _id lookup indexes failed; retrying", slog.String("error", err.Error()))
		}
		if n > 0 {
			logger.Info("added _id lookup indexes", slog.Int("indexes", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
