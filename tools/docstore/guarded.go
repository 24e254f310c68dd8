package main

// Guarded writes: update, findAndModify and delete commands of one statement whose filter names
// one document by `_id` (a string or ObjectID) and adds conditions. FerretDB v1.24.2 over SQLite
// finds documents through SQL only for a filter of `_id` alone and scans the whole collection for
// anything else, so the gate (guarded_gate.go) looks the document up by `_id`, checks the
// conditions itself and forwards the write with its filter cut down to `{_id: v}`. Upserts,
// multi-document and multi-statement writes, and commands FerretDB would refuse (accepted.go)
// pass through unchanged.

import (
	"go.mongodb.org/mongo-driver/bson"
)

// guardedCommands are the commands planGuarded looks into.
var guardedCommands = map[string]bool{"update": true, "delete": true, "findAndModify": true, "findandmodify": true}

// guardedWrite is a write of one document named by `_id`, with conditions the gate checks.
type guardedWrite struct {
	command    string // "update", "delete", "findAndModify" or "findandmodify"
	db         string
	collection string
	id         bson.RawValue // a string or ObjectID
	cond       condition     // the filter without `_id`
	remove     bool          // findAndModify removing the document
	rewritten  *opMsgParts   // the request with its filter replaced by {_id: id}
}

// planGuarded returns the guarded write a request carries, nil if it carries none, or
// errUnsupported naming a condition only FerretDB can check.
func planGuarded(command string, request message) (*guardedWrite, error) {
	if !guardedCommands[command] {
		return nil, nil
	}
	parts, err := parseOpMsg(request)
	if err != nil {
		return nil, nil // FerretDB answers what it makes of it
	}
	body := parts.body()
	if body == nil {
		return nil, nil
	}
	collection, okC := body.Lookup(command).StringValueOK()
	db, okD := body.Lookup("$db").StringValueOK()
	if !okC || !okD {
		return nil, nil
	}
	w := &guardedWrite{command: command, db: db, collection: collection}
	switch command {
	case "update":
		if !onlyAccepted(body, "update") {
			return nil, nil
		}
		return w.planStatement(parts, "updates", "q", updateQualifies)
	case "delete":
		if !onlyAccepted(body, "delete") {
			return nil, nil
		}
		return w.planStatement(parts, "deletes", "q", deleteQualifies)
	default:
		remove, ok := flagOf(body, "remove")
		if !ok || !onlyAccepted(body, "findAndModify") || !writesOne(body) || remove == has(body, "update") ||
			!remove && !updateAccepted(body.Lookup("update")) {
			return nil, nil // an upsert, or neither or both of update and remove (FerretDB says what is wrong)
		}
		w.remove = remove
		filter, err := w.plan(body, "query")
		if filter == nil || err != nil {
			return nil, err
		}
		rewritten, err := replaceField(body, "query", filter)
		if err != nil {
			return nil, nil
		}
		w.rewritten = withBody(parts, rewritten)
		return w, nil
	}
}

// planStatement plans an update or delete whose one statement is in the body's field or the
// document sequence of that name (PyMongo sends the sequence).
func (w *guardedWrite) planStatement(parts *opMsgParts, field, filterKey string, qualifies func(bson.Raw) bool) (*guardedWrite, error) {
	sequence, inSequence := parts.sequence(field)
	array, inBody := parts.body().Lookup(field).ArrayOK()
	var statements []bson.RawValue
	switch {
	case inSequence && !inBody:
		for _, d := range sequence {
			statements = append(statements, bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: d})
		}
	case inBody && !inSequence:
		statements, _ = array.Values()
	}
	if len(statements) != 1 {
		return nil, nil
	}
	statement, ok := statements[0].DocumentOK()
	if !ok || !qualifies(statement) {
		return nil, nil
	}
	filter, err := w.plan(statement, filterKey)
	if filter == nil || err != nil {
		return nil, err
	}
	rewritten, err := replaceField(statement, filterKey, filter)
	if err != nil {
		return nil, nil
	}
	if inSequence {
		w.rewritten = withSequence(parts, field, rewritten)
	} else if body, err := replaceField(parts.body(), field, bson.A{rewritten}); err == nil {
		w.rewritten = withBody(parts, body)
	} else {
		return nil, nil
	}
	return w, nil
}

// plan reads the filter at filterKey: it sets w.id and w.cond and returns {_id: id} when the filter
// names a document by `_id` and adds conditions; nil when the write is not a guarded one, and
// errUnsupported when the conditions are beyond the gate's matcher.
func (w *guardedWrite) plan(statement bson.Raw, filterKey string) (bson.D, error) {
	filter, ok := statement.Lookup(filterKey).DocumentOK()
	if !ok {
		return nil, nil
	}
	elements, err := filter.Elements()
	if err != nil {
		return nil, nil
	}
	var rest []bson.RawElement
	found, plain := 0, false
	for _, e := range elements {
		if e.Key() != "_id" {
			rest = append(rest, e)
			continue
		}
		found++
		w.id, plain = idOf(e.Value())
	}
	if found != 1 || w.id.Type == 0 || plain && len(rest) == 0 {
		return nil, nil // no single _id, or `_id` alone, which FerretDB already finds fast
	}
	if w.cond, err = compileElements(rest); err != nil {
		return nil, err
	}
	return bson.D{{Key: "_id", Value: w.id}}, nil
}

// idOf returns a filter's `_id` value when it is a string or ObjectID, plainly or as {$eq: v},
// and whether it was plain; a zero value otherwise.
func idOf(v bson.RawValue) (bson.RawValue, bool) {
	if v.Type == bson.TypeString || v.Type == bson.TypeObjectID {
		return v, true
	}
	doc, ok := v.DocumentOK()
	if !ok {
		return bson.RawValue{}, false
	}
	elements, err := doc.Elements()
	if err != nil || len(elements) != 1 || elements[0].Key() != "$eq" {
		return bson.RawValue{}, false
	}
	if id := elements[0].Value(); id.Type == bson.TypeString || id.Type == bson.TypeObjectID {
		return id, false
	}
	return bson.RawValue{}, false
}

// updateQualifies reports whether an update statement writes at most one existing document
// with an update FerretDB applies.
func updateQualifies(statement bson.Raw) bool {
	return onlyAccepted(statement, "update.statement") && writesOne(statement) && updateAccepted(statement.Lookup("u"))
}

// writesOne reports whether an update statement or findAndModify neither upserts nor updates many.
func writesOne(statement bson.Raw) bool {
	upsert, okU := flagOf(statement, "upsert")
	multi, okM := flagOf(statement, "multi")
	return okU && okM && !upsert && !multi
}

// deleteQualifies reports whether a delete statement removes at most one document (limit 1).
func deleteQualifies(statement bson.Raw) bool {
	limit := statement.Lookup("limit")
	n, ok := integer(limit)
	if limit.Type == bson.TypeDouble {
		n, ok = int64(limit.Double()), limit.Double() == 1
	}
	return ok && n == 1 && onlyAccepted(statement, "delete.statement")
}

// has reports whether doc has an element named key.
func has(doc bson.Raw, key string) bool {
	_, err := doc.LookupErr(key)
	return err == nil
}

// flagOf returns a boolean option (a bool, or a number as MongoDB takes it; false when absent) and
// whether it could be read.
func flagOf(doc bson.Raw, key string) (bool, bool) {
	v, err := doc.LookupErr(key)
	if err != nil {
		return false, true
	}
	switch v.Type {
	case bson.TypeBoolean, bson.TypeInt32, bson.TypeInt64, bson.TypeDouble, bson.TypeNull:
		return truthOf(v)
	}
	return false, false
}

// withBody returns parts with the body document replaced.
func withBody(parts *opMsgParts, body bson.Raw) *opMsgParts {
	out := &opMsgParts{flags: parts.flags, sections: append([]msgSection(nil), parts.sections...)}
	for i, s := range out.sections {
		if s.kind == 0 {
			out.sections[i].doc = body
		}
	}
	return out
}

// withSequence returns parts with the named document sequence holding just doc.
func withSequence(parts *opMsgParts, identifier string, doc bson.Raw) *opMsgParts {
	out := &opMsgParts{flags: parts.flags, sections: append([]msgSection(nil), parts.sections...)}
	for i, s := range out.sections {
		if s.kind == 1 && s.identifier == identifier {
			out.sections[i].docs = []bson.Raw{doc}
		}
	}
	return out
}

// nothingMatched returns MongoDB's reply to the write when its filter matches no document.
func (w *guardedWrite) nothingMatched() bson.Raw {
	var reply bson.D
	switch {
	case w.command == "update":
		reply = bson.D{{Key: "n", Value: int32(0)}, {Key: "nModified", Value: int32(0)}}
	case w.command == "delete":
		reply = bson.D{{Key: "n", Value: int32(0)}}
	case w.remove: // findAndModify: MongoDB says updatedExisting only of updates
		reply = bson.D{{Key: "lastErrorObject", Value: bson.D{{Key: "n", Value: int32(0)}}}, {Key: "value", Value: nil}}
	default:
		reply = bson.D{
			{Key: "lastErrorObject", Value: bson.D{{Key: "n", Value: int32(0)}, {Key: "updatedExisting", Value: false}}},
			{Key: "value", Value: nil},
		}
	}
	raw, err := bson.Marshal(append(reply, bson.E{Key: "ok", Value: 1.0}))
	if err != nil {
		panic(err) // these documents always encode
	}
	return raw
}
