package main

// The gate's document cache. Every change to stored documents reaches FerretDB through the gate,
// one write at a time (gate.go), so the gate can know a document as it is after the last write to
// it: from the finds it makes itself for guarded writes (guarded_gate.go) and from findAndModify
// replies that return the document after the change. Under the write mutex, a write first drops
// from the cache every document it may change (all of them, for a write the gate cannot read), so
// the cache never holds a document older than the last write that reached FerretDB. With it, the
// check of a guarded write needs no find of its own, and a client's find of one document by `_id`
// is answered here (cached_reads.go), which FerretDB does at ~0.5-1 ms of CPU each (its decoding
// of stored JSON, measured).
//
// Writes populate it, and so do clients' finds by `_id`, but only those that began while no write
// was in flight and during which no write began that may change their document (reads run
// concurrently with writes, so a find's reply may predate a write that ended meanwhile); the cache
// remembers which documents the latest writes may change for that. The one change FerretDB makes on its own is deleting
// from capped collections; the gate stops caching for good once one is created through it, and
// the services create none.

import (
	"container/list"
	"math"
	"sync"

	"go.mongodb.org/mongo-driver/bson"
)

// largestCached bounds the size of one cached document, so a few large ones cannot empty the cache.
const largestCached = 1 << 20

// remembered is how many documents changed by the latest writes the cache remembers, to tell whether
// a find's reply may be cached (a find that outlives them is not).
const remembered = 1024

// docKey names one document: its database, collection and `_id` (type byte and raw value).
type docKey struct {
	db, collection, id string
}

// keyOf returns the key of the document with this `_id` in db.collection.
func keyOf(db, collection string, id bson.RawValue) docKey {
	return docKey{db: db, collection: collection, id: string(append([]byte{byte(id.Type)}, id.Value...))}
}

// cachedDoc is one entry of the cache's recency list.
type cachedDoc struct {
	key docKey
	doc bson.Raw
}

// docCache holds documents as they are after the last write, least recently used dropped first
// once they take more than limit bytes. A nil *docCache caches nothing.
type docCache struct {
	mu           sync.Mutex
	limit, size  int
	entries      map[docKey]*list.Element
	order        *list.List // most recently used first
	off          bool
	hits, misses int64

	writes  uint64            // writes begun
	writing bool              // one is in flight
	touched [remembered]touch // what the latest writes may change, a ring
	next    int               // where the next touch goes in the ring
	lost    uint64            // the latest write some of whose touches the ring no longer holds
}

// touch is one document (or, with all set, every document) write number seq may change.
type touch struct {
	seq uint64
	key docKey
	all bool
}

// newDocCache returns a cache of at most limit bytes of documents, or nil (no cache) for limit <= 0.
func newDocCache(limit int) *docCache {
	if limit <= 0 {
		return nil
	}
	return &docCache{limit: limit, entries: map[docKey]*list.Element{}, order: list.New()}
}

// get returns the cached document for k and whether there was one.
func (c *docCache) get(k docKey) (bson.Raw, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, found := c.entries[k]
	if !found {
		c.misses++
		return nil, false
	}
	c.hits++
	c.order.MoveToFront(e)
	return e.Value.(*cachedDoc).doc, true
}

// put caches a copy of doc as the document k is now; call it only with the write mutex held.
func (c *docCache) put(k docKey, doc bson.Raw) {
	if c == nil || len(doc) > largestCached {
		c.forget(k)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.off {
		c.store(k, doc)
	}
}

// store caches a copy of doc as k with c.mu held, dropping the least recently used beyond the limit.
func (c *docCache) store(k docKey, doc bson.Raw) {
	c.remove(k)
	c.entries[k] = c.order.PushFront(&cachedDoc{key: k, doc: append(bson.Raw(nil), doc...)})
	c.size += len(doc)
	for c.size > c.limit {
		c.remove(c.order.Back().Value.(*cachedDoc).key)
	}
}

// forget drops the document k and remembers that the current write may change it.
func (c *docCache) forget(k docKey) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.remove(k)
	c.remember(touch{seq: c.writes, key: k})
}

// forgetAll drops every document and remembers that the current write may change any.
func (c *docCache) forgetAll() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = map[docKey]*list.Element{}
	c.order.Init()
	c.size = 0
	c.remember(touch{seq: c.writes, all: true})
}

// remember records t in the ring with c.mu held.
func (c *docCache) remember(t touch) {
	if old := c.touched[c.next]; old.seq > c.lost {
		c.lost = old.seq
	}
	c.touched[c.next] = t
	c.next = (c.next + 1) % remembered
}

// readStarts returns the ticket of a find beginning now, and false when a write is in flight (its
// reply may then not be cached).
func (c *docCache) readStarts() (uint64, bool) {
	if c == nil {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes, !c.writing
}

// readEnds caches doc, the reply to a find of k begun with ticket, unless a write that may change
// k began since (or the ring has forgotten whether one did).
func (c *docCache) readEnds(ticket uint64, k docKey, doc bson.Raw) {
	if len(doc) > largestCached {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.off || c.lost > ticket {
		return
	}
	if c.writes != ticket {
		for _, t := range c.touched {
			if t.seq > ticket && (t.all || t.key == k) {
				return
			}
		}
	}
	c.store(k, doc)
}

// writeEnds notes that the write in flight has ended.
func (c *docCache) writeEnds() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.writing = false
	c.mu.Unlock()
}

// stop drops every document and caches none from now on.
func (c *docCache) stop() {
	if c == nil {
		return
	}
	c.forgetAll()
	c.mu.Lock()
	c.off = true
	c.mu.Unlock()
}

// counts returns how many lookups found a document and how many did not.
func (c *docCache) counts() (hits, misses int64) {
	if c == nil {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

// remove drops k with c.mu held.
func (c *docCache) remove(k docKey) {
	if e, found := c.entries[k]; found {
		c.size -= len(e.Value.(*cachedDoc).doc)
		c.order.Remove(e)
		delete(c.entries, k)
	}
}

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
