package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// e returns one bson.E.
func e(key string, value any) bson.E { return bson.E{Key: key, Value: value} }

// pymongoUpdate returns an update command as PyMongo sends update_one: the statement in an "updates" sequence.
func pymongoUpdate(t *testing.T, flags uint32, statement bson.D) message {
	body := raw(t, bson.D{e("update", "probe"), e("ordered", true), e("$db", "db")})
	return opMsgOf(9, 0, flags, body, sequence("updates", raw(t, statement)))
}

// rewrittenBody returns the body document and the one statement of a planned write's rewritten request.
func rewrittenBody(t *testing.T, w *guardedWrite, field string) (bson.Raw, bson.Raw) {
	t.Helper()
	parts, err := parseOpMsg(w.rewritten.encode(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if docs, ok := parts.sequence(field); ok {
		return parts.body(), docs[0]
	}
	if field == "" {
		return parts.body(), parts.body()
	}
	return parts.body(), parts.body().Lookup(field, "0").Document()
}

func TestAConditionalUpdateByIDIsCutDownToItsID(t *testing.T) {
	statement := bson.D{e("q", bson.D{e("_id", "k"), e("v", 3)}), e("u", bson.D{e("$set", bson.D{e("v", 4)})}),
		e("multi", false), e("upsert", false), e("hint", bson.D{e("_id", 1)})}
	request := pymongoUpdate(t, flagChecksumPresent, statement)
	w, err := planGuarded("update", request)
	if err != nil || w == nil {
		t.Fatalf("not planned: %v", err)
	}
	if w.db != "db" || w.collection != "probe" || w.id.StringValue() != "k" {
		t.Errorf("planned %s.%s _id %v", w.db, w.collection, w.id)
	}
	out := w.rewritten.encode(9, 0)
	end := len(out) - 4
	if crc32.Checksum(out[:end], castagnoliTab) != binary.LittleEndian.Uint32(out[end:]) {
		t.Error("the rewritten request's checksum does not match")
	}
	body, got := rewrittenBody(t, w, "updates")
	want := raw(t, bson.D{e("q", bson.D{e("_id", "k")}), e("u", bson.D{e("$set", bson.D{e("v", 4)})}),
		e("multi", false), e("upsert", false), e("hint", bson.D{e("_id", 1)})})
	if !bytes.Equal(got, want) {
		t.Errorf("statement %v, want %v", got, want)
	}
	if !bytes.Equal(body, raw(t, bson.D{e("update", "probe"), e("ordered", true), e("$db", "db")})) {
		t.Errorf("body changed: %v", body)
	}
}

func TestEveryGuardedCommandShapeIsRewritten(t *testing.T) {
	oid := primitive.NewObjectID()
	cases := map[string]struct {
		command string
		request message
		field   string // where the statement is: a sequence or body field, or "" for the body itself
		filter  string
		want    bson.D
	}{
		"update in the body": {"update", opMsgOf(1, 0, 0, raw(t, bson.D{e("update", "c"), e("updates", bson.A{
			bson.D{e("q", bson.D{e("v", 1), e("_id", oid)}), e("u", bson.D{e("$inc", bson.D{e("v", 1)})})}}), e("$db", "d")})),
			"updates", "q", bson.D{e("q", bson.D{e("_id", oid)}), e("u", bson.D{e("$inc", bson.D{e("v", 1)})})}},
		"findAndModify": {"findAndModify", opMsgOf(1, 0, 0, raw(t, bson.D{e("findAndModify", "c"),
			e("query", bson.D{e("_id", "k"), e("applied", bson.D{e("$ne", "e1")})}), e("sort", bson.D{e("x", 1)}),
			e("update", bson.D{e("$push", bson.D{e("applied", "e1")})}), e("new", true),
			e("$db", "d")})), "", "query", bson.D{e("findAndModify", "c"), e("query", bson.D{e("_id", "k")}),
			e("sort", bson.D{e("x", 1)}), e("update", bson.D{e("$push", bson.D{e("applied", "e1")})}), e("new", true),
			e("$db", "d")}},
		"findandmodify removing": {"findandmodify", opMsgOf(1, 0, 0, raw(t, bson.D{e("findandmodify", "c"),
			e("query", bson.D{e("_id", bson.D{e("$eq", "k")})}), e("remove", true), e("$db", "d")})), "", "query",
			bson.D{e("findandmodify", "c"), e("query", bson.D{e("_id", "k")}), e("remove", true), e("$db", "d")}},
		"delete": {"delete", opMsgOf(1, 0, 0, raw(t, bson.D{e("delete", "c"), e("$db", "d")}), sequence("deletes",
			raw(t, bson.D{e("q", bson.D{e("_id", "k"), e("rev", bson.D{e("$lt", 3)})}), e("limit", int32(1))}))),
			"deletes", "q", bson.D{e("q", bson.D{e("_id", "k")}), e("limit", int32(1))}},
	}
	for name, tc := range cases {
		w, err := planGuarded(tc.command, tc.request)
		if err != nil || w == nil {
			t.Errorf("%s: not planned: %v", name, err)
			continue
		}
		_, got := rewrittenBody(t, w, tc.field)
		if !bytes.Equal(got, raw(t, tc.want)) {
			t.Errorf("%s: rewritten to %v, want %v", name, got, raw(t, tc.want))
		}
	}
}

func TestWritesThatAreNotGuardedPassThrough(t *testing.T) {
	set := bson.D{e("$set", bson.D{e("v", 1)})}
	update := func(statement ...bson.E) message { return pymongoUpdate(t, 0, statement) }
	deleteOf := func(statement ...bson.E) message {
		return opMsgOf(1, 0, 0, raw(t, bson.D{e("delete", "c"), e("$db", "d")}), sequence("deletes", raw(t, bson.D(statement))))
	}
	two := opMsgOf(1, 0, 0, raw(t, bson.D{e("update", "c"), e("$db", "d")}), sequence("updates",
		raw(t, bson.D{e("q", bson.D{e("_id", "a"), e("v", 1)}), e("u", set)}),
		raw(t, bson.D{e("q", bson.D{e("_id", "b"), e("v", 1)}), e("u", set)})))
	for name, tc := range map[string]struct {
		command string
		request message
	}{
		"_id alone":      {"update", update(e("q", bson.D{e("_id", "k")}), e("u", set))},
		"no _id":         {"update", update(e("q", bson.D{e("v", 1)}), e("u", set))},
		"numeric _id":    {"update", update(e("q", bson.D{e("_id", 7), e("v", 1)}), e("u", set))},
		"_id $in":        {"update", update(e("q", bson.D{e("_id", bson.D{e("$in", bson.A{"k"})}), e("v", 1)}), e("u", set))},
		"_id twice":      {"update", update(e("q", bson.D{e("_id", "k"), e("_id", "j"), e("v", 1)}), e("u", set))},
		"_id in $and":    {"update", update(e("q", bson.D{e("$and", bson.A{bson.D{e("_id", "k")}, bson.D{e("v", 1)}})}), e("u", set))},
		"upsert":         {"update", update(e("q", bson.D{e("_id", "k"), e("v", 1)}), e("u", set), e("upsert", true))},
		"multi":          {"update", update(e("q", bson.D{e("_id", "k"), e("v", 1)}), e("u", set), e("multi", true))},
		"collation":      {"update", update(e("q", bson.D{e("_id", "k"), e("v", 1)}), e("u", set), e("collation", bson.D{e("locale", "fr")}))},
		"two statements": {"update", two},
		"delete many":    {"delete", deleteOf(e("q", bson.D{e("_id", "k"), e("v", 1)}), e("limit", int32(0)))},
		"findAndModify upsert": {"findAndModify", opMsgOf(1, 0, 0, raw(t, bson.D{e("findAndModify", "c"),
			e("query", bson.D{e("_id", "k"), e("v", 1)}), e("update", set), e("upsert", true), e("$db", "d")}))},
		"findAndModify neither update nor remove": {"findAndModify", opMsgOf(1, 0, 0, raw(t, bson.D{e("findAndModify", "c"),
			e("query", bson.D{e("_id", "k"), e("v", 1)}), e("$db", "d")}))},
		"findAndModify with fields (FerretDB refuses them)": {"findAndModify", opMsgOf(1, 0, 0, raw(t, bson.D{e("findAndModify", "c"),
			e("query", bson.D{e("_id", "k"), e("v", 1)}), e("update", set), e("fields", bson.D{e("v", 1)}), e("$db", "d")}))},
		"findAndModify with an unknown update operator": {"findAndModify", opMsgOf(1, 0, 0, raw(t, bson.D{e("findAndModify", "c"),
			e("query", bson.D{e("_id", "k"), e("v", 1)}), e("update", bson.D{e("$foo", bson.D{e("v", 1)})}), e("$db", "d")}))},
		"update with arrayFilters": {"update", update(e("q", bson.D{e("_id", "k"), e("v", 1)}), e("u", set), e("arrayFilters", bson.A{}))},
		"update with let": {"update", opMsgOf(1, 0, 0, raw(t, bson.D{e("update", "c"), e("let", bson.D{}), e("$db", "d")}),
			sequence("updates", raw(t, bson.D{e("q", bson.D{e("_id", "k"), e("v", 1)}), e("u", set)})))},
		"update with a pipeline":             {"update", update(e("q", bson.D{e("_id", "k"), e("v", 1)}), e("u", bson.A{set}))},
		"update mixing operators and fields": {"update", update(e("q", bson.D{e("_id", "k"), e("v", 1)}), e("u", bson.D{e("$set", bson.D{}), e("v", 1)}))},
		"delete with a collation":            {"delete", deleteOf(e("q", bson.D{e("_id", "k"), e("v", 1)}), e("limit", int32(1)), e("collation", bson.D{}))},
		"insert":                             {"insert", opMsgOf(1, 0, 0, raw(t, bson.D{e("insert", "c"), e("$db", "d")}))},
		"no $db":                             {"update", opMsgOf(1, 0, 0, raw(t, bson.D{e("update", "c")}), sequence("updates", raw(t, bson.D{e("q", bson.D{e("_id", "k"), e("v", 1)}), e("u", set)})))},
		"OP_QUERY":                           {"update", opQueryOf(1, "d.$cmd", raw(t, bson.D{e("update", "c")}))},
	} {
		if w, err := planGuarded(tc.command, tc.request); w != nil || err != nil {
			t.Errorf("%s: planned (%v)", name, err)
		}
	}
	if _, err := planGuarded("update", update(e("q", bson.D{e("_id", "k"), e("s", bson.D{e("$regex", "x")})}), e("u", set))); !errors.Is(err, errUnsupported) {
		t.Errorf("$regex: %v, want errUnsupported", err)
	}
}

func TestNothingMatchedIsAnsweredAsMongoDBAnswersIt(t *testing.T) {
	for command, want := range map[string]bson.D{
		"update": {e("n", int32(0)), e("nModified", int32(0)), e("ok", 1.0)},
		"delete": {e("n", int32(0)), e("ok", 1.0)},
		"findAndModify": {e("lastErrorObject", bson.D{e("n", int32(0)), e("updatedExisting", false)}),
			e("value", nil), e("ok", 1.0)},
		"findAndModify remove": {e("lastErrorObject", bson.D{e("n", int32(0))}), e("value", nil), e("ok", 1.0)},
	} {
		w := &guardedWrite{command: command, remove: command == "findAndModify remove"}
		if command == "findAndModify remove" {
			w.command = "findAndModify"
		}
		if got := w.nothingMatched(); !bytes.Equal(got, raw(t, want)) {
			t.Errorf("%s: %v, want %v", command, got, raw(t, want))
		}
	}
}
