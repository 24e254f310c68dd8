package main

import (
	"encoding/binary"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/bson"
)

// helloReply returns FerretDB's kind of handshake answer, advertising 100,000 statements per write.
func helloReply(request message) bson.Raw {
	body, _ := bson.Marshal(bson.D{{Key: "isWritablePrimary", Value: true},
		{Key: "maxWriteBatchSize", Value: int32(100000)}, {Key: "ok", Value: 1.0}})
	return body
}

// legacyReply returns an OP_REPLY answering requestID with one document.
func legacyReply(requestID int32, body []byte) message {
	payload := binary.LittleEndian.AppendUint32(nil, 0)    // responseFlags
	payload = binary.LittleEndian.AppendUint64(payload, 0) // cursorID
	payload = binary.LittleEndian.AppendUint32(payload, 0) // startingFrom
	payload = binary.LittleEndian.AppendUint32(payload, 1) // numberReturned
	return withHeader(requestID+1000, requestID, opReply, append(payload, body...))
}

func TestHandshakesAdvertiseTheWriteBatchFerretDBCanTake(t *testing.T) {
	addr, _, _ := startGate(t, true, func(name string, request message) []message {
		if request.header().opCode == opQuery {
			return []message{legacyReply(request.header().requestID, helloReply(request))}
		}
		return []message{opMsgReply(request.header().requestID+1000, request.header().requestID, helloReply(request))}
	})
	c := connect(t, addr)
	reply, err := c.call("hello")
	if err != nil {
		t.Fatal(err)
	}
	parts, err := parseOpMsg(reply)
	if err != nil {
		t.Fatal(err)
	}
	if got := parts.body().Lookup("maxWriteBatchSize").AsInt64(); got != maxWriteBatch {
		t.Fatalf("OP_MSG hello: maxWriteBatchSize %d, want %d", got, maxWriteBatch)
	}
	if _, err := c.conn.Write(opQueryOf(77, "admin.$cmd", command("isMaster"))); err != nil {
		t.Fatal(err)
	}
	legacy, err := readMessage(c.in)
	if err != nil {
		t.Fatal(err)
	}
	if legacy.header().responseTo != 77 || legacy.header().opCode != opReply {
		t.Fatalf("legacy reply header %+v", legacy.header())
	}
	if got := bson.Raw(legacy[headerLen+20:]).Lookup("maxWriteBatchSize").AsInt64(); got != maxWriteBatch {
		t.Fatalf("OP_QUERY isMaster: maxWriteBatchSize %d, want %d", got, maxWriteBatch)
	}
}

func TestAWriteWithMoreStatementsThanFerretDBCanTakeIsRefusedNotForwarded(t *testing.T) {
	addr, fake, _ := startGate(t, true, func(name string, request message) []message { return ok(request) })
	c := connect(t, addr)
	statement := doc(element(0x03, "q", doc(element(0x02, "_id", append(binary.LittleEndian.AppendUint32(nil, 2), 'a', 0)))),
		element(0x03, "u", doc(element(0x03, "$set", doc(element(0x08, "x", []byte{1}))))))
	statements := func(n int) [][]byte {
		out := make([][]byte, n)
		for i := range out {
			out[i] = statement
		}
		return out
	}
	db := element(0x02, "$db", append(binary.LittleEndian.AppendUint32(nil, 5), 't', 'e', 's', 't', 0))
	for _, n := range []int{maxWriteBatch, maxWriteBatch + 1} {
		before := len(fake.requests())
		c.next++
		request := opMsgOf(c.next, 0, 0, command("update", db), sequence("updates", statements(n)...))
		if _, err := c.conn.Write(request); err != nil {
			t.Fatal(err)
		}
		reply, err := readMessage(c.in)
		if err != nil {
			t.Fatal(err)
		}
		parts, err := parseOpMsg(reply)
		if err != nil {
			t.Fatal(err)
		}
		forwarded := len(fake.requests()) > before
		okValue, _ := parts.body().Lookup("ok").AsInt64OK()
		if n <= maxWriteBatch && (!forwarded || okValue != 1) {
			t.Fatalf("%d statements: forwarded %v, ok %d", n, forwarded, okValue)
		}
		if n > maxWriteBatch {
			message, _ := parts.body().Lookup("errmsg").StringValueOK()
			if forwarded || okValue != 0 || !strings.Contains(message, "at most 50 statements") {
				t.Fatalf("%d statements: forwarded %v, reply %v", n, forwarded, parts.body())
			}
		}
	}
}
