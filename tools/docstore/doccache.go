package main

// The gate's document cache. Every change to stored documents reaches FerretDB through the gate,
// one write at a time (gate.go), so the gate can know a document as it is after the last write to
// it: from what an insert stored, from findAndModify replies that return the document after the
// change, and from the finds it makes itself for guarded writes (guarded_gate.go). Under the write
// mutex, a write first drops from the cache every document it may change, all of them for a write
// the gate cannot read (cache_writes.go), so the cache never holds a document older than the last
// write that reached FerretDB. With it, the check of a guarded write needs no find of its own, and
// a client's find of one document by `_id` is answered here (cached_reads.go), which FerretDB does
// at ~0.5-1 ms of CPU each (its decoding of stored JSON, measured).
//
// Clients' finds by `_id` populate it too, but only those that began while no write was in flight
// and during which no write began that may change their document (reads run concurrently with
// writes, so a find's reply may predate a write that ended meanwhile); the cache remembers which
// documents the latest writes may change for that. The one change FerretDB makes on its own is
// deleting from capped collections; the gate stops caching for good once one is created through
// it, and the services create none.

import (
	"container/list"
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
