package main

// The gate's side of guarded writes (guarded.go): with the write mutex held, read the document
// by `_id` (FerretDB finds it through SQL), check the conditions in Go, and either forward the
// write cut down to `{_id: v}` or answer "nothing matched" without forwarding. Nothing else
// writes in between, so the check and the write are one atomic step, as on MongoDB.

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"go.mongodb.org/mongo-driver/bson"
)

// maxWarned bounds how many distinct unsupported conditions the gate remembers having logged.
const maxWarned = 100

// planWrite returns the guarded write request carries when conditional pushdown applies, else nil;
// it logs, once per kind, conditions it leaves to FerretDB.
func (g *gate) planWrite(command string, request message) *guardedWrite {
	if !g.serialize || !g.pushdown || request.header().opCode != opMsg {
		return nil
	}
	w, err := planGuarded(command, request)
	if err != nil {
		g.warnUnsupported(command, err)
		return nil
	}
	return w
}

// runGuarded returns the reply to a guarded write: FerretDB's, when the document exists and meets
// the conditions (or only FerretDB can tell), else MongoDB's "nothing matched", made here.
func (g *gate) runGuarded(w *guardedWrite, request message, backend io.Writer, backendIn io.Reader) (message, error) {
	g.writes.Lock()
	defer g.writes.Unlock()
	key := keyOf(w.db, w.collection, w.id)
	doc, known := g.cache.get(key)
	if !known {
		var err error
		if doc, known, err = g.lookup(w, backend, backendIn); err != nil {
			return nil, err
		}
		if doc != nil {
			g.cache.put(key, doc)
		}
	}
	if !known { // FerretDB refused the find: let it answer the write itself
		return g.write(w.command, request, backend, backendIn)
	}
	matched := false
	if doc != nil {
		var err error
		matched, err = w.cond.matches(bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: doc})
		if err != nil {
			g.warnUnsupported(w.command, err)
			return g.write(w.command, request, backend, backendIn)
		}
	}
	h := request.header()
	if !matched {
		return opMsgReply(g.ids.Add(1), h.requestID, w.nothingMatched()), nil
	}
	return g.write(w.command, w.rewritten.encode(h.requestID, h.responseTo), backend, backendIn)
}

// lookup returns the document with w's `_id` (nil if there is none) and whether FerretDB answered
// the find; an error means the connection to FerretDB failed.
func (g *gate) lookup(w *guardedWrite, backend io.Writer, backendIn io.Reader) (bson.Raw, bool, error) {
	find, err := bson.Marshal(bson.D{
		{Key: "find", Value: w.collection},
		{Key: "filter", Value: bson.D{{Key: "_id", Value: w.id}}},
		{Key: "limit", Value: int64(1)},
		{Key: "singleBatch", Value: true},
		{Key: "$db", Value: w.db},
	})
	if err != nil {
		return nil, false, nil
	}
	reply, err := roundTrip(opMsgReply(g.ids.Add(1), 0, find), backend, backendIn)
	if err != nil {
		return nil, false, err
	}
	doc, ok := firstFound(reply)
	return doc, ok, nil
}

// firstFound returns the first document of a find reply's first batch (nil for none) and whether
// the reply was a successful one.
func firstFound(reply message) (bson.Raw, bool) {
	parts, err := parseOpMsg(reply)
	if err != nil || parts.body() == nil {
		return nil, false
	}
	body := parts.body()
	if ok, isNumber := body.Lookup("ok").AsInt64OK(); !isNumber || ok != 1 {
		return nil, false
	}
	batch, ok := body.Lookup("cursor", "firstBatch").ArrayOK()
	if !ok {
		return nil, false
	}
	values, err := batch.Values()
	if err != nil {
		return nil, false
	}
	if len(values) == 0 {
		return nil, true
	}
	doc, ok := values[0].DocumentOK()
	return doc, ok
}

// roundTrip sends request to FerretDB and returns its reply.
func roundTrip(request message, backend io.Writer, backendIn io.Reader) (message, error) {
	if _, err := backend.Write(request); err != nil {
		return nil, fmt.Errorf("%w: sending: %w", errBackend, err)
	}
	return readReply(backendIn, request.header().requestID)
}

// warnUnsupported logs, the first time each is met, a condition the gate leaves to FerretDB.
func (g *gate) warnUnsupported(command string, err error) {
	var what unsupportedError
	if !errors.As(err, &what) {
		what = unsupportedError(err.Error())
	}
	g.mu.Lock()
	seen := g.warned[string(what)] || len(g.warned) >= maxWarned
	if !seen {
		g.warned[string(what)] = true
	}
	g.mu.Unlock()
	if !seen {
		g.logger.Warn("conditional write passed to FerretDB unchanged (a full collection scan there): "+
			"its condition is beyond the gate's matcher", slog.String("command", command),
			slog.String("unsupported", string(what)))
	}
}
