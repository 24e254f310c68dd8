package main

import (
	"context"
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

func TestEveryCollectionTableGetsAnIDLookupIndexTheFilterUses(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "incidents.sqlite")
	db, err := sql.Open("sqlite", "file:"+file)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		// the layout FerretDB v1.24 creates: a metadata table and one table per collection
		`CREATE TABLE _ferretdb_collections (name TEXT, table_name TEXT, settings TEXT)`,
		`INSERT INTO _ferretdb_collections VALUES ('tickets', 'tickets_1234abcd', '{}')`,
		`CREATE TABLE tickets_1234abcd (_ferretdb_sjson TEXT)`,
		`CREATE UNIQUE INDEX tickets_1234abcd__id_ ON tickets_1234abcd (_ferretdb_sjson->"_id")`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	plan := func() string { // on a new connection, as FerretDB's pool would open one
		fresh, err := sql.Open("sqlite", "file:"+file)
		if err != nil {
			t.Fatal(err)
		}
		defer fresh.Close()
		var id, parent, unused int
		var detail string
		row := fresh.QueryRow(`EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM tickets_1234abcd WHERE _ferretdb_sjson->'$._id' = ?`, `"x"`)
		if err := row.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		return detail
	}
	if got := plan(); got != "SCAN tickets_1234abcd" {
		t.Fatalf("expected FerretDB's own index to be unusable for its _id filter, got %q", got)
	}

	for round, want := range []int{1, 0} { // the second sweep finds nothing to do
		n, err := ensureIDIndexes(context.Background(), dir)
		if err != nil || n != want {
			t.Fatalf("sweep %d: created %d (want %d), err %v", round, n, want, err)
		}
	}
	if got := plan(); got != "SEARCH tickets_1234abcd USING INDEX tickets_1234abcd_id_lookup (<expr>=?)" {
		t.Errorf("the _id filter does not use the lookup index: %q", got)
	}
}

func TestSweepNeverCreatesDatabaseFiles(t *testing.T) {
	dir := t.TempDir()
	if n, err := ensureIDIndexesIn(context.Background(), filepath.Join(dir, "dropped.sqlite")); n != 0 || err != nil {
		t.Fatalf("created %d, err %v", n, err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("the sweep left files behind: %v", files)
	}
}

func TestJournalsOfDroppedDatabasesAreRemovedAndOthersKept(t *testing.T) {
	dir := t.TempDir()
	write := func(name string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"dropped.sqlite-wal", "dropped.sqlite-shm", "live.sqlite", "live.sqlite-wal", "live.sqlite-shm"} {
		write(name)
	}
	removed, err := removeOrphanJournals(dir)
	if err != nil || len(removed) != 2 {
		t.Fatalf("removed %v, err %v", removed, err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(left) != 3 {
		t.Errorf("expected the live database and its journals to stay, have %v", left)
	}
}
