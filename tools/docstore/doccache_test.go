package main

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
)

// counters stands in for FerretDB holding documents {_id, v} in db "db", collection "probe":
// find by `_id`, findAndModify ($inc of v, by `_id` only, returning the document after it when
// new is set), update ($set of v by `_id`, or of every document), insert and drop; it counts the finds it answers.
type counters struct {
	mu    sync.Mutex
	docs  map[string]int64
	finds int
	held  chan struct{} // when set, a find answers only once it is closed, with the document as it was when asked
}

func (s *counters) handle(t *testing.T) func(string, message) []message {
	return func(name string, request message) []message {
		parts, err := parseOpMsg(request)
		if err != nil {
			t.Error(err)
			return nil
		}
		body := parts.body()
		id := request.header().requestID
		reply := func(doc bson.D) []message { return []message{opMsgReply(id+1000, id, raw(t, doc))} }
		s.mu.Lock()
		defer s.mu.Unlock()
		switch name {
		case "find":
			s.finds++
			batch := bson.A{}
			if v, found := s.docs[body.Lookup("filter", "_id").StringValue()]; found {
				batch = append(batch, bson.D{e("_id", body.Lookup("filter", "_id").StringValue()), e("v", v)})
			}
			if held := s.held; held != nil {
				s.mu.Unlock()
				<-held
				s.mu.Lock()
			}
			return reply(bson.D{e("cursor", bson.D{e("firstBatch", batch), e("id", int64(0)), e("ns", "db.probe")}), e("ok", 1.0)})
		case "findAndModify":
			key := body.Lookup("query", "_id").StringValue()
			before, found := s.docs[key]
			if !found {
				return reply(bson.D{e("value", nil), e("ok", 1.0)})
			}
			s.docs[key] = before + body.Lookup("update", "$inc", "v").AsInt64()
			shown := before
			if returnsNew, _ := flagOf(body, "new"); returnsNew {
				shown = s.docs[key]
			}
			return reply(bson.D{e("value", bson.D{e("_id", key), e("v", shown)}), e("ok", 1.0)})
		case "update":
			statements, _ := parts.sequence("updates")
			for _, st := range statements {
				v := st.Lookup("u", "$set", "v").AsInt64()
				if key, named := st.Lookup("q", "_id").StringValueOK(); named {
					s.docs[key] = v
					continue
				}
				for key := range s.docs { // any other filter: every document, as far as these tests need
					s.docs[key] = v
				}
			}
			return reply(bson.D{e("n", int32(len(statements))), e("ok", 1.0)})
		case "insert":
			docs, _ := parts.sequence("documents")
			n := 0
			for _, d := range docs {
				key, isString := d.Lookup("_id").StringValueOK()
				if !isString {
					key = d.Lookup("_id").String()
				}
				if _, taken := s.docs[key]; taken {
					return reply(bson.D{e("n", int32(n)), e("writeErrors", bson.A{bson.D{e("index", int32(n)), e("code", int32(11000))}}), e("ok", 1.0)})
				}
				s.docs[key] = d.Lookup("v").AsInt64()
				n++
			}
			return reply(bson.D{e("n", int32(n)), e("ok", 1.0)})
		case "drop":
			s.docs = map[string]int64{}
			return reply(bson.D{e("ok", 1.0)})
		}
		return reply(bson.D{e("ok", 1.0)})
	}
}

func (s *counters) findsAnswered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.finds
}

// findOne returns PyMongo's find_one({_id: key}) with an optional projection and extra fields.
func findOne(t *testing.T, key string, more ...bson.E) message {
	body := append(bson.D{e("find", "probe"), e("filter", bson.D{e("_id", key)}), e("limit", int32(1)),
		e("singleBatch", true), e("lsid", bson.D{e("id", "session")}), e("$db", "db")}, more...)
	return opMsgOf(1, 0, 0, raw(t, body))
}

// increment returns a findAndModify adding one to v of key, returning the document after it if returnsNew.
func increment(t *testing.T, key string, returnsNew bool, condition ...bson.E) message {
	query := append(bson.D{e("_id", key)}, condition...)
	return opMsgOf(1, 0, 0, raw(t, bson.D{e("findAndModify", "probe"), e("query", query),
		e("update", bson.D{e("$inc", bson.D{e("v", 1)})}), e("new", returnsNew), e("$db", "db")}))
}

// foundV returns v of the one document a find reply holds, or -1 if it holds none.
func foundV(t *testing.T, reply message) int64 {
	t.Helper()
	doc, ok := replyBody(t, reply).Lookup("cursor", "firstBatch", "0").DocumentOK()
	if !ok {
		return -1
	}
	return doc.Lookup("v").AsInt64()
}

func TestAFindAfterAFindAndModifyReturningTheNewDocumentIsAnsweredByTheGate(t *testing.T) {
	store := &counters{docs: map[string]int64{"a": 1}}
	addr, _, _ := startConfiguredGate(t, true, true, newDocCache(1<<20), store.handle(t))
	c := connect(t, addr)
	c.roundTrip(t, increment(t, "a", true))
	reply := c.roundTrip(t, findOne(t, "a"))
	if v := foundV(t, reply); v != 2 || store.findsAnswered() != 0 {
		t.Errorf("v %d (want 2), FerretDB answered %d finds (want 0)", v, store.findsAnswered())
	}
	body := replyBody(t, reply)
	if body.Lookup("cursor", "ns").StringValue() != "db.probe" || body.Lookup("cursor", "id").Int64() != 0 ||
		body.Lookup("ok").Double() != 1 {
		t.Errorf("reply %v", body)
	}
}

func TestAGuardedWriteOfACachedDocumentNeedsNoFindOfItsOwn(t *testing.T) {
	store := &counters{docs: map[string]int64{"a": 1}}
	addr, fake, _ := startConfiguredGate(t, true, true, newDocCache(1<<20), store.handle(t))
	c := connect(t, addr)
	c.roundTrip(t, increment(t, "a", true, e("v", 1))) // the gate finds it once, then learns v: 2
	c.roundTrip(t, increment(t, "a", true, e("v", 2)))
	missed := c.roundTrip(t, increment(t, "a", true, e("v", 2))) // v is 3 now: nothing matched
	if store.findsAnswered() != 1 || store.docs["a"] != 3 || len(fake.requests()) != 3 {
		t.Errorf("finds %d (want 1), v %d (want 3), requests %d (want find + 2 writes)", store.findsAnswered(),
			store.docs["a"], len(fake.requests()))
	}
	if n := replyBody(t, missed).Lookup("lastErrorObject", "n").AsInt64(); n != 0 {
		t.Errorf("the write whose condition no longer held matched %d", n)
	}
}

func TestWhatAFindFindsIsCachedWhenNoWriteGotInItsWay(t *testing.T) {
	store := &counters{docs: map[string]int64{"a": 1}}
	addr, _, _ := startConfiguredGate(t, true, true, newDocCache(1<<20), store.handle(t))
	c := connect(t, addr)
	first, second := foundV(t, c.roundTrip(t, findOne(t, "a"))), foundV(t, c.roundTrip(t, findOne(t, "a")))
	if first != 1 || second != 1 || store.findsAnswered() != 1 {
		t.Errorf("found %d then %d, FerretDB answered %d finds (want 1)", first, second, store.findsAnswered())
	}
	c.roundTrip(t, findOne(t, "a", e("projection", bson.D{e("v", 1)})))
	c.roundTrip(t, findOne(t, "b"))
	c.roundTrip(t, findOne(t, "b"))
	if store.findsAnswered() != 3 {
		t.Errorf("FerretDB answered %d finds, want 3: a projected find is answered from the cache, none is cached", store.findsAnswered())
	}
}

func TestAFindOverlappingAWriteToItsDocumentIsNotCached(t *testing.T) {
	setA := opMsgOf(1, 0, 0, raw(t, bson.D{e("update", "probe"), e("$db", "db")}),
		sequence("updates", raw(t, bson.D{e("q", bson.D{e("_id", "a")}), e("u", bson.D{e("$set", bson.D{e("v", 10)})})})))
	setB := opMsgOf(1, 0, 0, raw(t, bson.D{e("update", "probe"), e("$db", "db")}),
		sequence("updates", raw(t, bson.D{e("q", bson.D{e("_id", "b")}), e("u", bson.D{e("$set", bson.D{e("v", 10)})})})))
	for name, tc := range map[string]struct {
		write  message
		cached bool
	}{
		"a write to its document": {setA, false},
		"a write to another one":  {setB, true},
	} {
		store := &counters{docs: map[string]int64{"a": 1, "b": 1}, held: make(chan struct{})}
		addr, _, _ := startConfiguredGate(t, true, true, newDocCache(1<<20), store.handle(t))
		reader, writer := connect(t, addr), connect(t, addr)
		stale := make(chan int64)
		go func() { stale <- foundV(t, reader.roundTrip(t, findOne(t, "a"))) }()
		for store.findsAnswered() == 0 { // the find has reached FerretDB and read the document
			time.Sleep(time.Millisecond)
		}
		writer.roundTrip(t, tc.write)
		close(store.held)
		if v := <-stale; v != 1 {
			t.Fatalf("%s: the held find found %d", name, v)
		}
		store.mu.Lock()
		store.held = nil
		want := store.docs["a"]
		store.mu.Unlock()
		if v := foundV(t, reader.roundTrip(t, findOne(t, "a"))); v != want || (store.findsAnswered() == 1) != tc.cached {
			t.Errorf("%s: found %d (stored %d), answered from the cache: %v", name, v, want, store.findsAnswered() == 1)
		}
	}
}

func TestAFindIsNotCachedOnceTheCacheHasForgottenWhatWritesChangedSinceItBegan(t *testing.T) {
	c := newDocCache(1 << 20)
	key := func(i int) docKey { return docKey{db: "db", collection: "c", id: fmt.Sprint(i)} }
	doc := raw(t, bson.D{e("_id", "x")})
	during, _ := c.readStarts()
	for i := range remembered + 1 { // writes to other documents, more than the ring holds
		c.beforeWrite("update", opMsgOf(1, 0, 0, raw(t, bson.D{e("update", "c"), e("$db", "db")}),
			sequence("updates", raw(t, bson.D{e("q", bson.D{e("_id", fmt.Sprint(i))}), e("u", bson.D{})}))))
		c.writeEnds()
	}
	c.readEnds(during, key(-1), doc)
	if _, found := c.get(key(-1)); found {
		t.Error("cached a find the ring could no longer vouch for")
	}
	after, ok := c.readStarts()
	c.readEnds(after, key(-1), doc)
	if _, found := c.get(key(-1)); !ok || !found {
		t.Error("did not cache a find no write overlapped")
	}
	c.beforeWrite("drop", opMsgOf(1, 0, 0, raw(t, bson.D{e("drop", "c"), e("$db", "db")})))
	if _, ok := c.readStarts(); ok {
		t.Error("a find begun while a write is in flight may be cached")
	}
}

func TestFindsTheGateCannotAnswerGoToFerretDB(t *testing.T) {
	for name, more := range map[string][]bson.E{
		"sorted":                  {e("sort", bson.D{e("v", 1)})},
		"skipping":                {e("skip", int32(1))},
		"projecting a path":       {e("projection", bson.D{e("x.y", 1)})},
		"projecting an operator":  {e("projection", bson.D{e("v", bson.D{e("$slice", 1)})})},
		"mixing include, exclude": {e("projection", bson.D{e("v", 1), e("w", 0)})},
		"empty first batch":       {e("batchSize", int32(0))},
	} {
		store := &counters{docs: map[string]int64{"a": 1}}
		addr, _, _ := startConfiguredGate(t, true, true, newDocCache(1<<20), store.handle(t))
		c := connect(t, addr)
		c.roundTrip(t, increment(t, "a", true))
		c.roundTrip(t, findOne(t, "a", more...))
		if store.findsAnswered() != 1 {
			t.Errorf("%s: FerretDB answered %d finds, want 1", name, store.findsAnswered())
		}
	}
}

func TestProjectionsOfTopLevelFieldsAreAppliedAsMongoDBDoes(t *testing.T) {
	doc := raw(t, bson.D{e("_id", "a"), e("v", 1), e("w", 2), e("x", bson.D{e("y", 3)})})
	for name, tc := range map[string]struct {
		projection bson.D
		want       bson.D
	}{
		"none":                  {bson.D{}, bson.D{e("_id", "a"), e("v", 1), e("w", 2), e("x", bson.D{e("y", 3)})}},
		"include":               {bson.D{e("w", 1)}, bson.D{e("_id", "a"), e("w", 2)}},
		"include without _id":   {bson.D{e("w", true), e("_id", 0)}, bson.D{e("w", 2)}},
		"exclude":               {bson.D{e("v", 0), e("x", false)}, bson.D{e("_id", "a"), e("w", 2)}},
		"exclude _id only":      {bson.D{e("_id", 0)}, bson.D{e("v", 1), e("w", 2), e("x", bson.D{e("y", 3)})}},
		"include _id only":      {bson.D{e("_id", 1)}, bson.D{e("_id", "a")}},
		"include a missing one": {bson.D{e("z", 1.0)}, bson.D{e("_id", "a")}},
	} {
		got, ok := project(doc, raw(t, tc.projection))
		if !ok || !bytes.Equal(got, raw(t, tc.want)) {
			t.Errorf("%s: %v %v, want %v", name, bson.Raw(got), ok, tc.want)
		}
	}
}

func TestTheCacheKeepsToItsSizeDroppingTheLeastRecentlyUsed(t *testing.T) {
	docOf := func(i int) bson.Raw {
		return raw(t, bson.D{e("_id", fmt.Sprint(i)), e("pad", string(make([]byte, 80)))})
	}
	size := len(docOf(0))
	c := newDocCache(3 * size)
	key := func(i int) docKey {
		return keyOf("db", "c", bson.RawValue{Type: bson.TypeString, Value: []byte(fmt.Sprint(i))})
	}
	for i := range 3 {
		c.put(key(i), docOf(i))
	}
	c.get(key(0)) // 1 is now the least recently used
	c.put(key(3), docOf(3))
	for i, want := range []bool{true, false, true, true} {
		if _, found := c.get(key(i)); found != want {
			t.Errorf("document %d cached: %v, want %v", i, found, want)
		}
	}
	if c.size != 3*size || len(c.entries) != 3 || c.order.Len() != 3 {
		t.Errorf("size %d, entries %d, list %d", c.size, len(c.entries), c.order.Len())
	}
	c.stop()
	c.put(key(5), docOf(5))
	if _, found := c.get(key(5)); found {
		t.Error("a stopped cache still caches")
	}
}

func TestConcurrentGuardedIncrementsThroughTheCacheLoseNothing(t *testing.T) {
	store := &counters{docs: map[string]int64{"a": 0}}
	addr, _, _ := startConfiguredGate(t, true, true, newDocCache(1<<20), store.handle(t))
	const clients, attempts = 8, 25
	wins := make([]int64, clients)
	conns := make([]*client, clients)
	for i := range conns {
		conns[i] = connect(t, addr)
	}
	err := inParallel(clients, func(i int) error {
		for range attempts {
			found, err := conns[i].exchange(findOne(t, "a"))
			if err != nil {
				return err
			}
			v := foundV(t, found)
			reply, err := conns[i].exchange(increment(t, "a", true, e("v", v)))
			if err != nil {
				return err
			}
			parts, err := parseOpMsg(reply)
			if err != nil {
				return err
			}
			if after, ok := parts.body().Lookup("value").DocumentOK(); ok {
				if after.Lookup("v").AsInt64() != v+1 {
					return fmt.Errorf("a write guarded on v=%d left v=%d", v, after.Lookup("v").AsInt64())
				}
				wins[i]++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, w := range wins {
		total += w
	}
	if total == 0 || store.docs["a"] != total {
		t.Errorf("%d guarded increments acknowledged, the document says %d", total, store.docs["a"])
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
