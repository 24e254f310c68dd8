package main

import (
	"database/sql"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func TestEmptyDatabaseFilesAreSetAsideAndOthersKept(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "interrupted.sqlite")
	kept := filepath.Join(dir, "incidents.sqlite")
	for _, file := range []string{empty, kept} {
		db, err := sql.Open("sqlite", "file:"+file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("PRAGMA user_version = 1"); err != nil { // creates the file, no tables
			t.Fatal(err)
		}
		if file == kept {
			if _, err := db.Exec("CREATE TABLE _ferretdb_collections (x)"); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
	}

	if err := setAsideEmptyDatabases(dir, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}

	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Errorf("empty database file still in place: %v", err)
	}
	if aside, _ := filepath.Glob(empty + ".empty-*"); len(aside) != 1 {
		t.Errorf("empty database file not set aside: %v", aside)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Errorf("database with tables was moved: %v", err)
	}
}
