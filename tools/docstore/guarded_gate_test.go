package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// oneDocument stands in for FerretDB holding at most one document {_id: "k", v: v}: find answers
// with it after a pause (so unguarded writes would overlap), update, findAndModify and delete
// apply to it without checking their filter, as FerretDB would after the gate's check.
type oneDocument struct {
	mu     sync.Mutex
	v      any // nil: no document
	pause  time.Duration
	findOK float64
}

func (d *oneDocument) handle(t *testing.T) func(string, message) []message {
	return func(name string, request message) []message {
		parts, err := parseOpMsg(request)
		if err != nil {
			t.Error(err)
			return nil
		}
		id := request.header().requestID
		reply := func(doc bson.D) []message { return []message{opMsgReply(id+1000, id, raw(t, doc))} }
		d.mu.Lock()
		current := d.v
		d.mu.Unlock()
		switch name {
		case "find":
			time.Sleep(d.pause)
			batch := bson.A{}
			if current != nil {
				batch = append(batch, bson.D{e("_id", "k"), e("v", current)})
			}
			return reply(bson.D{e("cursor", bson.D{e("firstBatch", batch), e("id", int64(0)), e("ns", "d.c")}), e("ok", d.findOK)})
		case "update":
			docs, _ := parts.sequence("updates")
			d.mu.Lock()
			d.v = docs[0].Lookup("u", "$set", "v")
			d.mu.Unlock()
			return reply(bson.D{e("n", int32(1)), e("nModified", int32(1)), e("ok", 1.0), e("from", "ferret")})
		case "delete":
			d.mu.Lock()
			d.v = nil
			d.mu.Unlock()
			return reply(bson.D{e("n", int32(1)), e("ok", 1.0), e("from", "ferret")})
		default:
			return reply(bson.D{e("ok", 1.0), e("from", "ferret")})
		}
	}
}

// value returns the document's v as an integer (-1 when there is no document).
func (d *oneDocument) value() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch v := d.v.(type) {
	case bson.RawValue:
		return v.AsInt64()
	case int32:
		return int64(v)
	}
	return -1
}

// roundTrip sends m (numbered by the client) and returns the reply, which must answer it.
func (c *client) roundTrip(t *testing.T, m message) message {
	t.Helper()
	reply, err := c.exchange(m)
	if err != nil {
		t.Fatal(err)
	}
	return reply
}

// exchange sends m, renumbered with the client's next id, and returns the reply, which must answer it.
func (c *client) exchange(m message) (message, error) {
	c.next++
	m = append(message(nil), m...)
	copy(m[4:8], []byte{byte(c.next), byte(c.next >> 8), byte(c.next >> 16), byte(c.next >> 24)})
	if _, err := c.conn.Write(m); err != nil {
		return nil, err
	}
	reply, err := readMessage(c.in)
	if err == nil && reply.header().responseTo != c.next {
		err = fmt.Errorf("reply to %d, sent %d", reply.header().responseTo, c.next)
	}
	return reply, err
}

// replyBody returns the body document of a reply.
func replyBody(t *testing.T, m message) bson.Raw {
	t.Helper()
	parts, err := parseOpMsg(m)
	if err != nil {
		t.Fatal(err)
	}
	return parts.body()
}

// casUpdate returns update_one({_id: "k", v: from}, {$set: {v: to}}) as PyMongo sends it.
func casUpdate(t *testing.T, from, to any) message {
	return pymongoUpdate(t, 0, bson.D{e("q", bson.D{e("_id", "k"), e("v", from)}), e("u", bson.D{e("$set", bson.D{e("v", to)})})})
}

func TestAGuardedWriteThatMatchesReachesFerretDBCutDownToItsID(t *testing.T) {
	store := &oneDocument{v: int32(1), findOK: 1}
	addr, fake, _ := startGate(t, true, store.handle(t))
	reply := connect(t, addr).roundTrip(t, casUpdate(t, 1, 2))
	if from := replyBody(t, reply).Lookup("from").StringValue(); from != "ferret" {
		t.Errorf("reply %v did not come from FerretDB", replyBody(t, reply))
	}
	got := fake.requests()
	if len(got) != 2 {
		t.Fatalf("FerretDB received %d requests, want a find and the update", len(got))
	}
	find := replyBody(t, got[0])
	if find.Lookup("find").StringValue() != "probe" || find.Lookup("$db").StringValue() != "db" ||
		!bytes.Equal(find.Lookup("filter").Document(), raw(t, bson.D{e("_id", "k")})) || find.Lookup("limit").AsInt64() != 1 {
		t.Errorf("find %v", find)
	}
	parts, _ := parseOpMsg(got[1])
	statements, _ := parts.sequence("updates")
	if q := statements[0].Lookup("q").Document(); !bytes.Equal(q, raw(t, bson.D{e("_id", "k")})) {
		t.Errorf("forwarded filter %v", q)
	}
	if store.value() != 2 {
		t.Errorf("document v %v", store.v)
	}
}

func TestAGuardedWriteThatDoesNotMatchIsAnsweredByTheGate(t *testing.T) {
	fam := func(query bson.D) message {
		return opMsgOf(1, 0, 0, raw(t, bson.D{e("findAndModify", "c"), e("query", query),
			e("update", bson.D{e("$set", bson.D{e("v", 9)})}), e("$db", "d")}))
	}
	del := opMsgOf(1, 0, 0, raw(t, bson.D{e("delete", "c"), e("$db", "d")}),
		sequence("deletes", raw(t, bson.D{e("q", bson.D{e("_id", "k"), e("v", 5)}), e("limit", int32(1))})))
	for name, tc := range map[string]struct {
		stored  any
		request message
		want    string
	}{
		"update, condition false":        {int32(1), casUpdate(t, 5, 6), "update"},
		"update, no such document":       {nil, casUpdate(t, 5, 6), "update"},
		"findAndModify, condition false": {int32(1), fam(bson.D{e("_id", "k"), e("v", bson.D{e("$gt", 1)})}), "findAndModify"},
		"delete, condition false":        {int32(1), del, "delete"},
	} {
		store := &oneDocument{v: tc.stored, findOK: 1}
		addr, fake, _ := startGate(t, true, store.handle(t))
		reply := connect(t, addr).roundTrip(t, tc.request)
		if want := (&guardedWrite{command: tc.want}).nothingMatched(); !bytes.Equal(replyBody(t, reply), want) {
			t.Errorf("%s: reply %v, want %v", name, replyBody(t, reply), want)
		}
		if got := fake.requests(); len(got) != 1 {
			t.Errorf("%s: FerretDB received %d requests, want the find alone", name, len(got))
		}
		if store.v != tc.stored {
			t.Errorf("%s: document changed to %v", name, store.v)
		}
	}
}

func TestWritesTheGateCannotCheckReachFerretDBUnchanged(t *testing.T) {
	regex := pymongoUpdate(t, flagChecksumPresent, bson.D{e("q", bson.D{e("_id", "k"), e("v", bson.D{e("$regex", "1")})}),
		e("u", bson.D{e("$set", bson.D{e("v", 2)})})})
	decimal := must(primitive.ParseDecimal128("1"))
	for name, tc := range map[string]struct {
		store    *oneDocument
		pushdown bool
		request  message
		finds    int
	}{
		"unsupported operator":      {&oneDocument{v: int32(1), findOK: 1}, true, regex, 0},
		"stored decimal128":         {&oneDocument{v: decimal, findOK: 1}, true, casUpdate(t, 1, 2), 1},
		"FerretDB refuses the find": {&oneDocument{v: int32(1), findOK: 0}, true, casUpdate(t, 1, 2), 1},
		"pushdown off":              {&oneDocument{v: int32(1), findOK: 1}, false, casUpdate(t, 1, 2), 0},
	} {
		addr, fake, _ := startGateWith(t, true, tc.pushdown, tc.store.handle(t))
		c := connect(t, addr)
		reply := c.roundTrip(t, tc.request)
		if from := replyBody(t, reply).Lookup("from").StringValue(); from != "ferret" {
			t.Errorf("%s: reply %v did not come from FerretDB", name, replyBody(t, reply))
		}
		got := fake.requests()
		sent := append(message(nil), tc.request...)
		copy(sent[4:8], got[len(got)-1][4:8]) // the client numbered it
		if len(got) != tc.finds+1 || !bytes.Equal(got[len(got)-1], sent) {
			t.Errorf("%s: FerretDB received %d requests, the last one changed: %v", name, len(got), !bytes.Equal(got[len(got)-1], sent))
		}
	}
}

func TestAFireAndForgetGuardedWriteThatDoesNotMatchGetsNoReply(t *testing.T) {
	store := &oneDocument{v: int32(1), findOK: 1}
	addr, _, _ := startGate(t, true, store.handle(t))
	c := connect(t, addr)
	oneWay := casUpdate(t, 5, 6)
	oneWay[headerLen] |= flagMoreToCome
	if _, err := c.conn.Write(oneWay); err != nil {
		t.Fatal(err)
	}
	if _, err := c.call("ping"); err != nil { // the first reply the client sees answers the ping
		t.Fatal(err)
	}
}

func TestGuardedCompareAndSetLosesNoAcknowledgedWrite(t *testing.T) {
	store := &oneDocument{v: int32(0), findOK: 1, pause: 200 * time.Microsecond}
	addr, _, _ := startGate(t, true, store.handle(t))
	const clients, attempts = 8, 25
	wins := make([]int, clients)
	read := opMsgOf(1, 0, 0, raw(t, bson.D{e("find", "probe"), e("filter", bson.D{e("_id", "k")}), e("$db", "db")}))
	conns := make([]*client, clients)
	for i := range conns {
		conns[i] = connect(t, addr)
	}
	err := inParallel(clients, func(i int) error {
		for range attempts {
			found, err := conns[i].exchange(read)
			if err != nil {
				return err
			}
			parts, err := parseOpMsg(found)
			if err != nil {
				return err
			}
			v := parts.body().Lookup("cursor", "firstBatch", "0", "v").AsInt64()
			reply, err := conns[i].exchange(casUpdate(t, v, v+1))
			if err != nil {
				return err
			}
			parts, err = parseOpMsg(reply)
			if err != nil {
				return err
			}
			wins[i] += int(parts.body().Lookup("n").Int32())
		}
		return nil
	})
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	total := 0
	for _, w := range wins {
		total += w
	}
	if final := store.value(); total == 0 || final != int64(total) {
		t.Errorf("%d compare-and-set writes acknowledged, the document says %d", total, final)
	}
}
