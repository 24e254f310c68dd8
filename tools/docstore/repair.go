package main

import (
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the SQLite driver FerretDB itself uses
)

// setAsideEmptyDatabases moves database files that hold no tables at all out of FerretDB's way.
//
// FerretDB creates a database's SQLite file before its metadata table; a process stopped in
// between leaves an empty file, and FerretDB then refuses to start ("no such table:
// _ferretdb_collections"). An empty file holds no data, so it is renamed, never deleted.
// Files that have tables are left alone, so real damage still fails loudly.
func setAsideEmptyDatabases(dir string, logger *slog.Logger) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.sqlite"))
	if err != nil {
		return err
	}
	for _, file := range files {
		tables, err := countTables(file)
		if err != nil {
			return fmt.Errorf("inspect %s: %w", file, err)
		}
		if tables > 0 {
			continue
		}
		aside := fmt.Sprintf("%s.empty-%d", file, time.Now().Unix())
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if _, err := os.Stat(file + suffix); err == nil {
				if err := os.Rename(file+suffix, aside+suffix); err != nil {
					return err
				}
			}
		}
		logger.Warn("set aside an empty database file left by an interrupted create", slog.String("file", aside))
	}
	return nil
}

// countTables returns how many tables a SQLite file holds.
func countTables(file string) (int, error) {
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table'`).Scan(&n)
	return n, err
}

// removeOrphanJournals deletes -wal and -shm files whose database file is gone.
//
// Dropping a database removes its SQLite file while connections may still hold the journal
// open, so the journals can outlive it; without the database they hold nothing recoverable.
// It returns the files removed.
func removeOrphanJournals(dir string) ([]string, error) {
	var removed []string
	for _, suffix := range []string{"-wal", "-shm"} {
		journals, err := filepath.Glob(filepath.Join(dir, "*.sqlite"+suffix))
		if err != nil {
			return removed, err
		}
		for _, journal := range journals {
			database := journal[:len(journal)-len(suffix)]
			if _, err := os.Stat(database); !os.IsNotExist(err) {
				continue
			}
			if err := os.Remove(journal); err != nil {
				return removed, err
			}
			removed = append(removed, journal)
		}
	}
	return removed, nil
}
