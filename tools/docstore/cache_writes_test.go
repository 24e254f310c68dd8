package main

import (
	"math"
	"testing"

	"go.mongodb.org/mongo-driver/bson"
)

func TestWritesDropWhatTheyMayChangeFromTheCache(t *testing.T) {
	setV := func(keys ...string) message {
		var statements [][]byte
		for _, key := range keys {
			statements = append(statements, raw(t, bson.D{e("q", bson.D{e("_id", key)}), e("u", bson.D{e("$set", bson.D{e("v", 10)})})}))
		}
		return opMsgOf(1, 0, 0, raw(t, bson.D{e("update", "probe"), e("$db", "db")}), sequence("updates", statements...))
	}
	byFilter := opMsgOf(1, 0, 0, raw(t, bson.D{e("update", "probe"), e("$db", "db")}),
		sequence("updates", raw(t, bson.D{e("q", bson.D{e("v", 2)}), e("u", bson.D{e("$set", bson.D{e("v", 10)})})})))
	drop := opMsgOf(1, 0, 0, raw(t, bson.D{e("drop", "probe"), e("$db", "db")}))
	for name, tc := range map[string]struct {
		write   message
		dropped []string
	}{
		"an update by _id":                  {setV("a"), []string{"a"}},
		"a bulk update by _id":              {setV("a", "b"), []string{"a", "b"}},
		"an update by another filter":       {byFilter, []string{"a", "b"}},
		"a command the cache does not know": {drop, []string{"a", "b"}},
		"a findAndModify returning before":  {increment(t, "b", false), []string{"b"}},
		"a findAndModify returning a part": {opMsgOf(1, 0, 0, raw(t, bson.D{e("findAndModify", "probe"), e("query", bson.D{e("_id", "b")}),
			e("update", bson.D{e("$inc", bson.D{e("v", 1)})}), e("new", true), e("fields", bson.D{e("v", 1)}), e("$db", "db")})), []string{"b"}},
	} {
		store := &counters{docs: map[string]int64{"a": 1, "b": 1}}
		addr, _, _ := startConfiguredGate(t, true, true, newDocCache(1<<20), store.handle(t))
		c := connect(t, addr)
		c.roundTrip(t, increment(t, "a", true))
		c.roundTrip(t, increment(t, "b", true))
		c.roundTrip(t, tc.write)
		for _, key := range []string{"a", "b"} {
			before := store.findsAnswered()
			got := foundV(t, c.roundTrip(t, findOne(t, key)))
			store.mu.Lock()
			want, exists := store.docs[key]
			store.mu.Unlock()
			if !exists {
				want = -1
			}
			asked := store.findsAnswered() > before
			if got != want || asked != contains(tc.dropped, key) {
				t.Errorf("%s: %s: v %d (stored %d), asked FerretDB: %v", name, key, got, want, asked)
			}
		}
	}
}

func TestInsertedDocumentsAreCachedOnceAllAreStored(t *testing.T) {
	insert := func(docs ...bson.D) message {
		var raws [][]byte
		for _, d := range docs {
			raws = append(raws, raw(t, d))
		}
		return opMsgOf(1, 0, 0, raw(t, bson.D{e("insert", "probe"), e("ordered", true), e("$db", "db")}), sequence("documents", raws...))
	}
	for name, tc := range map[string]struct {
		insert message
		cached map[string]bool
	}{
		"all stored":           {insert(bson.D{e("_id", "b"), e("v", int64(2))}, bson.D{e("_id", "c"), e("v", int64(3))}), map[string]bool{"b": true, "c": true}},
		"one refused":          {insert(bson.D{e("_id", "b"), e("v", int64(2))}, bson.D{e("_id", "a"), e("v", int64(3))}), map[string]bool{"b": false}},
		"holding -0.0":         {insert(bson.D{e("_id", "b"), e("v", int64(2)), e("x", bson.A{math.Copysign(0, -1)})}), map[string]bool{"b": false}},
		"without a usable _id": {insert(bson.D{e("_id", int32(7)), e("v", int64(2))}), map[string]bool{}},
	} {
		store := &counters{docs: map[string]int64{"a": 1}}
		addr, _, _ := startConfiguredGate(t, true, true, newDocCache(1<<20), store.handle(t))
		c := connect(t, addr)
		if _, err := c.exchange(tc.insert); err != nil {
			t.Fatal(err)
		}
		for key, cached := range tc.cached {
			before := store.findsAnswered()
			c.roundTrip(t, findOne(t, key))
			if fromCache := store.findsAnswered() == before; fromCache != cached {
				t.Errorf("%s: %s answered from the cache: %v", name, key, fromCache)
			}
		}
	}
}

func TestCreatingACappedCollectionStopsTheCache(t *testing.T) {
	c := newDocCache(1 << 20)
	k := keyOf("db", "probe", bson.RawValue{Type: bson.TypeString, Value: raw(t, bson.D{e("s", "a")}).Lookup("s").Value})
	c.put(k, raw(t, bson.D{e("_id", "a")}))
	c.beforeWrite("create", opMsgOf(1, 0, 0, raw(t, bson.D{e("create", "log"), e("capped", true), e("size", 1024), e("$db", "db")})))
	c.put(k, raw(t, bson.D{e("_id", "a")}))
	if _, found := c.get(k); found || !c.off {
		t.Error("the cache still caches after a capped collection was created")
	}
}
