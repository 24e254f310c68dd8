package main

// readOnlyCommands are the commands FerretDB v1.24.2 answers without changing stored data; they
// pass the write gate concurrently. Every other command, including ones this list has never heard
// of, is treated as a write and runs alone: a command wrongly taken for a write only waits its
// turn, a write wrongly taken for a read could lose an update. aggregate is here because v1.24.2
// refuses the only writing stages, $out and $merge (internal/handler/common/aggregations/stages).
var readOnlyCommands = map[string]bool{
	"aggregate": true, "buildInfo": true, "buildinfo": true, "collStats": true, "connectionStatus": true,
	"count": true, "currentOp": true, "dataSize": true, "dbStats": true, "dbstats": true, "distinct": true,
	"endSessions": true, "explain": true, "find": true, "getCmdLineOpts": true, "getFreeMonitoringStatus": true,
	"getLog": true, "getMore": true, "getParameter": true, "hello": true, "hostInfo": true, "isMaster": true,
	"ismaster": true, "killCursors": true, "listCollections": true, "listCommands": true,
	"listDatabases": true, "listIndexes": true, "logout": true, "ping": true, "saslContinue": true,
	"saslStart": true, "serverStatus": true, "usersInfo": true, "validate": true, "whatsmyuri": true,
}

// isWrite reports whether a command must pass the write gate alone (true unless it is known read-only).
func isWrite(command string) bool {
	return !readOnlyCommands[command]
}
