package main

// What each write tells the document cache (doccache.go): which cached documents it may change,
// and what its reply shows them to be afterwards.

import (
	"math"

	"go.mongodb.org/mongo-driver/bson"
)

// learning is what the reply to a write may teach the cache: the document a findAndModify returns
// as it is after the change, or the documents an insert stored (all of them, or none if any failed).
type learning struct {
	returned   *docKey
	inserted   []cachedDoc
	insertions int // documents the insert carries, cacheable or not
}

// beforeWrite notes that a write begins, drops every document it may change, with the write mutex
// held, and returns what its reply may teach the cache.
func (c *docCache) beforeWrite(command string, request message) learning {
	if c == nil {
		return learning{}
	}
	c.mu.Lock()
	c.writes++
	c.writing = true
	c.mu.Unlock()
	parts, err := parseOpMsg(request)
	if err != nil || parts.body() == nil {
		c.forgetAll()
		return learning{}
	}
	body := parts.body()
	collection, okC := body.Lookup(command).StringValueOK()
	db, okD := body.Lookup("$db").StringValueOK()
	switch {
	case command == "create" && isCapped(body):
		c.stop() // FerretDB deletes from capped collections by itself, past the gate
		return learning{}
	case !okC || !okD:
		c.forgetAll()
		return learning{}
	case command == "insert": // adds documents (an existing `_id` is refused): changes none the cache holds
		return insertLearning(db, collection, parts)
	case command == "findAndModify" || command == "findandmodify":
		id, named := filterID(body.Lookup("query"))
		if !named {
			c.forgetAll()
			return learning{}
		}
		k := keyOf(db, collection, id)
		c.forget(k)
		returnsNew, _ := flagOf(body, "new")
		if removes, _ := flagOf(body, "remove"); returnsNew && !removes && !has(body, "fields") { // fields: a part of it
			return learning{returned: &k}
		}
		return learning{}
	case command == "update" || command == "delete":
		statements, readable := statementDocs(parts, statementsOf[command])
		for _, statement := range statements {
			id, named := filterID(statement.Lookup("q"))
			if !named {
				readable = false
				break
			}
			c.forget(keyOf(db, collection, id))
		}
		if !readable {
			c.forgetAll()
		}
		return learning{}
	default: // anything else may change anything: drop, rename, dropDatabase, commands not known here
		c.forgetAll()
		return learning{}
	}
}

// insertLearning returns the documents of an insert the cache may take once they are stored: those
// with a string or ObjectID `_id` and no -0.0 (FerretDB stores it as 0.0; everything else it
// stores, it returns byte for byte as it was sent, measured).
func insertLearning(db, collection string, parts *opMsgParts) learning {
	docs, readable := statementDocs(parts, "documents")
	if !readable {
		return learning{}
	}
	l := learning{insertions: len(docs)}
	for _, doc := range docs {
		if id := doc.Lookup("_id"); (id.Type == bson.TypeString || id.Type == bson.TypeObjectID) && !hasNegativeZero(doc) {
			l.inserted = append(l.inserted, cachedDoc{key: keyOf(db, collection, id), doc: doc})
		}
	}
	return l
}

// hasNegativeZero reports whether a document holds the double -0.0 at any depth.
func hasNegativeZero(doc bson.Raw) bool {
	elements, err := doc.Elements()
	if err != nil {
		return true
	}
	for _, e := range elements {
		v := e.Value()
		switch v.Type {
		case bson.TypeDouble:
			if f := v.Double(); f == 0 && math.Signbit(f) {
				return true
			}
		case bson.TypeEmbeddedDocument, bson.TypeArray:
			if hasNegativeZero(v.Value) {
				return true
			}
		}
	}
	return false
}

// learn caches what a successful write's reply shows the documents to be now.
func (c *docCache) learn(l learning, reply message) {
	if c == nil || l.returned == nil && len(l.inserted) == 0 {
		return
	}
	parts, err := parseOpMsg(reply)
	if err != nil || parts.body() == nil {
		return
	}
	body := parts.body()
	if ok, isNumber := body.Lookup("ok").AsInt64OK(); !isNumber || ok != 1 {
		return
	}
	if l.returned != nil {
		if doc, isDoc := body.Lookup("value").DocumentOK(); isDoc {
			c.put(*l.returned, doc)
		}
		return
	}
	n, counted := integer(body.Lookup("n"))
	if !counted || n != int64(l.insertions) || has(body, "writeErrors") || has(body, "writeConcernError") {
		return
	}
	for _, d := range l.inserted {
		c.put(d.key, d.doc)
	}
}

// statementDocs returns the statements of an update or delete, from its document sequence or its
// body's array, and whether they could all be read.
func statementDocs(parts *opMsgParts, field string) ([]bson.Raw, bool) {
	if docs, found := parts.sequence(field); found {
		return docs, docs != nil // two sequences of that name: unreadable
	}
	array, isArray := parts.body().Lookup(field).ArrayOK()
	if !isArray {
		return nil, false
	}
	values, err := array.Values()
	if err != nil {
		return nil, false
	}
	docs := make([]bson.Raw, 0, len(values))
	for _, v := range values {
		doc, isDoc := v.DocumentOK()
		if !isDoc {
			return nil, false
		}
		docs = append(docs, doc)
	}
	return docs, true
}

// filterID returns the `_id` a filter names (a string or ObjectID, plainly or as {$eq: v}) whatever
// else it adds, so that a write with it can change no other document; false if it names none.
func filterID(filter bson.RawValue) (bson.RawValue, bool) {
	doc, isDoc := filter.DocumentOK()
	if !isDoc {
		return bson.RawValue{}, false
	}
	elements, err := doc.Elements()
	if err != nil {
		return bson.RawValue{}, false
	}
	var id bson.RawValue
	found := 0
	for _, e := range elements {
		if e.Key() == "_id" {
			id, _ = idOf(e.Value())
			found++
		}
	}
	return id, found == 1 && id.Type != 0
}

// isCapped reports whether a create command makes a capped collection.
func isCapped(body bson.Raw) bool {
	capped, readable := flagOf(body, "capped")
	return capped || !readable
}
