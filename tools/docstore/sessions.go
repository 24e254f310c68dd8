package main

import "go.mongodb.org/mongo-driver/bson"

// Drivers send endSessions when a client closes, to free the server sessions it used. FerretDB v1
// has no server sessions and answers "no such command", logging a warning each time (thousands a
// day: every short-lived client of the services and the command line). MongoDB answers it with ok;
// so does the gate, itself, as there is nothing to free.

// endSessionsReply returns the gate's own answer to an OP_MSG endSessions, or nil for anything else.
func (g *gate) endSessionsReply(command string, request message) message {
	if command != "endSessions" || request.header().opCode != opMsg {
		return nil
	}
	body, err := bson.Marshal(bson.D{{Key: "ok", Value: 1.0}})
	if err != nil {
		return nil
	}
	return opMsgReply(g.ids.Add(1), request.header().requestID, body)
}
