package main

// Write batches FerretDB v1.24.2 can take. It keeps the query of every statement of an update or
// delete command open until the whole command ends, each on one of its 100 SQLite connections per
// database: a command with 100 statements that find documents waits for a connection forever, and
// as the write gate is held meanwhile, no other write ever runs again (measured: 99 updates of
// existing documents in one command pass, 100 hang the docstore). So the gate tells drivers a
// smaller maxWriteBatchSize in its hello replies, and they split bulk writes to fit, and it answers
// a command with more statements than that with an error instead of letting it through.

import (
	"encoding/binary"
	"fmt"

	"go.mongodb.org/mongo-driver/bson"
)

// maxWriteBatch is the most statements of one write command the gate passes, with room left for
// the connections readers and open cursors hold at the same time.
const maxWriteBatch = 50

// statementsOf names the array of statements of the commands whose statements each hold a connection.
var statementsOf = map[string]string{"update": "updates", "delete": "deletes"}

// handshakes are the commands whose replies advertise maxWriteBatchSize.
var handshakes = map[string]bool{"hello": true, "isMaster": true, "ismaster": true}

// tooManyStatements returns the error reply to a write command with more than maxWriteBatch
// statements, or nil when it may pass (anything the gate cannot read is left to FerretDB).
func (g *gate) tooManyStatements(command string, request message) message {
	field, ok := statementsOf[command]
	if !ok || request.header().opCode != opMsg {
		return nil
	}
	parts, err := parseOpMsg(request)
	if err != nil || parts.body() == nil {
		return nil
	}
	count := 0
	if docs, found := parts.sequence(field); found {
		count = len(docs)
	} else if array, isArray := parts.body().Lookup(field).ArrayOK(); isArray {
		values, err := array.Values()
		if err != nil {
			return nil
		}
		count = len(values)
	}
	if count <= maxWriteBatch {
		return nil
	}
	body, err := bson.Marshal(bson.D{
		{Key: "ok", Value: 0.0},
		{Key: "errmsg", Value: fmt.Sprintf("the docstore takes at most %d statements per %s command (this one has %d): "+
			"split the batch, as drivers do by the maxWriteBatchSize its hello reports", maxWriteBatch, command, count)},
		{Key: "code", Value: int32(2)},
		{Key: "codeName", Value: "BadValue"},
	})
	if err != nil {
		return nil
	}
	return opMsgReply(g.ids.Add(1), request.header().requestID, body)
}

// withSmallerWriteBatch returns a handshake reply with maxWriteBatchSize lowered to maxWriteBatch
// (OP_MSG or the legacy OP_REPLY); any other reply, or one it cannot read, is returned as it is.
func withSmallerWriteBatch(command string, reply message) message {
	if !handshakes[command] {
		return reply
	}
	h := reply.header()
	switch h.opCode {
	case opMsg:
		parts, err := parseOpMsg(reply)
		if err != nil || parts.body() == nil {
			return reply
		}
		body, changed := smallerWriteBatch(parts.body())
		if !changed {
			return reply
		}
		return withBody(parts, body).encode(h.requestID, h.responseTo)
	case opReply:
		const docAt = headerLen + 20 // responseFlags, cursorID, startingFrom, numberReturned
		if len(reply) < docAt+5 {
			return reply
		}
		size, ok := int32At(reply, docAt)
		if !ok || docAt+size != len(reply) {
			return reply
		}
		body, changed := smallerWriteBatch(bson.Raw(reply[docAt:]))
		if !changed {
			return reply
		}
		out := append(append(message{}, reply[:docAt]...), body...)
		binary.LittleEndian.PutUint32(out, uint32(len(out)))
		return out
	}
	return reply
}

// smallerWriteBatch returns doc with maxWriteBatchSize lowered to maxWriteBatch, and whether it changed.
func smallerWriteBatch(doc bson.Raw) (bson.Raw, bool) {
	if doc.Validate() != nil {
		return doc, false
	}
	current, ok := doc.Lookup("maxWriteBatchSize").AsInt64OK()
	if !ok || current <= maxWriteBatch {
		return doc, false
	}
	changed, err := replaceField(doc, "maxWriteBatchSize", int32(maxWriteBatch))
	if err != nil {
		return doc, false
	}
	return changed, true
}
