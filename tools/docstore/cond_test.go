package main

import (
	"errors"
	"math"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// raw returns v encoded as a BSON document.
func raw(t *testing.T, v any) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// check returns whether filter matches doc, and the matcher's error (compile or evaluation).
func check(t *testing.T, doc, filter bson.D) (bool, error) {
	t.Helper()
	c, err := compile(raw(t, filter))
	if err != nil {
		return false, err
	}
	return c.matches(bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: raw(t, doc)})
}

func day(d int) primitive.DateTime {
	return primitive.NewDateTimeFromTime(time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC))
}

// pyDoc is DOC of tests/unit/test_matching.py.
var pyDoc = bson.D{
	{Key: "_id", Value: "t1"}, {Key: "status", Value: "open"}, {Key: "applied", Value: bson.A{"a", "b"}},
	{Key: "rev", Value: int32(3)}, {Key: "lease_until", Value: nil},
	{Key: "outbox", Value: bson.A{bson.D{{Key: "event_id", Value: "e1"}}, bson.D{{Key: "event_id", Value: "e2"}}}},
	{Key: "sla", Value: bson.D{{Key: "due", Value: day(5)}}},
	{Key: "steps", Value: bson.A{bson.D{{Key: "name", Value: "warn"}, {Key: "fired", Value: true}}}},
}

func TestMatcherAgreesWithSharedMatchingPy(t *testing.T) {
	op := func(name string, v any) bson.D { return bson.D{{Key: name, Value: v}} }
	for i, tc := range []struct {
		filter bson.D
		want   bool
	}{
		{bson.D{}, true},
		{op("status", "open"), true},
		{op("status", "closed"), false},
		{op("applied", op("$ne", "c")), true},
		{op("applied", op("$ne", "a")), false},
		{op("applied", "b"), true},
		{op("outbox.0.event_id", "e1"), true},
		{op("outbox.0.event_id", "e2"), false},
		{op("outbox.event_id", "e2"), true},
		{op("outbox.0", op("$exists", true)), true},
		{op("outbox.5", op("$exists", true)), false},
		{op("missing", nil), true},
		{op("lease_until", nil), true},
		{op("missing", op("$exists", false)), true},
		{op("rev", bson.D{{Key: "$gte", Value: 3}, {Key: "$lt", Value: 4}}), true},
		{op("rev", op("$gt", 3)), false},
		{op("sla.due", op("$lte", day(6))), true},
		{op("status", op("$in", bson.A{"open", "on_hold"})), true},
		{op("status", op("$nin", bson.A{"open"})), false},
		{op("$or", bson.A{op("lease_until", op("$lt", 5)), op("lease_until", nil)}), true},
		{bson.D{{Key: "steps.name", Value: "warn"}, {Key: "status", Value: "open"}}, true},
	} {
		got, err := check(t, pyDoc, tc.filter)
		if err != nil || got != tc.want {
			t.Errorf("case %d %v: got %v, %v; want %v", i, tc.filter, got, err, tc.want)
		}
	}
}

func TestMatcherFollowsMongoDBOnValuesAndArrays(t *testing.T) {
	doc := bson.D{
		{Key: "i32", Value: int32(7)}, {Key: "i64", Value: int64(1 << 53)}, {Key: "f", Value: 2.5},
		{Key: "big", Value: int64(math.MaxInt64)}, {Key: "t", Value: true}, {Key: "s", Value: "b"},
		{Key: "nested", Value: bson.D{{Key: "x", Value: int32(1)}, {Key: "y", Value: bson.A{int32(1), 2.0}}}},
		{Key: "nums", Value: bson.A{int32(1), int32(10)}}, {Key: "grid", Value: bson.A{bson.A{int32(1), int32(2)}}},
		{Key: "nan", Value: math.NaN()}, {Key: "when", Value: day(3)}, {Key: "empty", Value: bson.A{}},
		{Key: "people", Value: bson.A{bson.D{{Key: "name", Value: "ann"}, {Key: "tags", Value: bson.A{"x"}}}}},
	}
	op := func(name string, v any) bson.D { return bson.D{{Key: name, Value: v}} }
	for name, tc := range map[string]struct {
		filter bson.D
		want   bool
	}{
		"int32 equals double":               {op("i32", 7.0), true},
		"int32 equals int64":                {op("i32", int64(7)), true},
		"int64 2^53 equals double":          {op("i64", float64(1<<53)), true},
		"int64 2^53 is not 2^53+1":          {op("i64", int64(1<<53+1)), false},
		"max int64 is not 2^63 as a double": {op("big", math.Exp2(63)), false},
		"max int64 below 2^63 as a double":  {op("big", op("$lt", math.Exp2(63))), true},
		"$lt the same value":                {op("i32", op("$lt", 7.0)), false},
		"$lte the same value":               {op("i32", op("$lte", 7.0)), true},
		"$gt the same value":                {op("i32", op("$gt", int64(7))), false},
		"$gte the same value":               {op("i32", op("$gte", int64(7))), true},
		"double between ints":               {op("f", op("$gt", int32(2))), true},
		"double below 3":                    {op("f", op("$lt", int64(3))), true},
		"true is not 1":                     {op("t", int32(1)), false},
		"true equals true":                  {op("t", true), true},
		"string is not a number":            {op("s", op("$gt", int32(0))), false},
		"strings order by bytes":            {op("s", op("$gt", "a")), true},
		"number is not a string":            {op("i32", op("$lt", "z")), false},
		"datetime is not a number":          {op("when", op("$gt", int32(0))), false},
		"datetimes order":                   {op("when", bson.D{{Key: "$gt", Value: day(2)}, {Key: "$lt", Value: day(4)}}), true},
		"document equal in order":           {op("nested", bson.D{{Key: "x", Value: 1.0}, {Key: "y", Value: bson.A{1, 2}}}), true},
		"document in another order":         {op("nested", bson.D{{Key: "y", Value: bson.A{1, 2}}, {Key: "x", Value: 1}}), false},
		"document with a field fewer":       {op("nested", bson.D{{Key: "x", Value: 1}}), false},
		"whole array equal":                 {op("nums", bson.A{1, 10}), true},
		"array in another order":            {op("nums", bson.A{10, 1}), false},
		"array holds the scalar":            {op("nums", 10), true},
		"array items compared":              {op("nums", bson.D{{Key: "$gt", Value: 5}, {Key: "$lt", Value: 2}}), true},
		"array item indexed":                {op("nums.1", op("$gte", 10)), true},
		"nested array holds the array":      {op("grid", bson.A{1, 2}), true},
		"nested arrays are not flattened":   {op("grid", 1), false},
		"nested array not compared":         {op("grid", op("$lt", 5)), false},
		"empty array is not null":           {op("empty", nil), false},
		"empty array equals []":             {op("empty", bson.A{}), true},
		"NaN equals NaN":                    {op("nan", math.NaN()), true},
		"NaN is not below anything":         {op("nan", op("$lt", 5)), false},
		"$ne of a missing field":            {op("missing", op("$ne", 1)), true},
		"$ne null of a present field":       {op("s", op("$ne", nil)), true},
		"$in null matches missing":          {op("missing", op("$in", bson.A{1, nil})), true},
		"$nin of a missing field":           {op("missing", op("$nin", bson.A{1})), true},
		"$exists 1":                         {op("s", op("$exists", 1)), true},
		"$exists of a scalar's field":       {op("s.x", op("$exists", false)), true},
		"$eq a document":                    {op("nested.x", op("$eq", 1)), true},
		"$and":                              {op("$and", bson.A{op("s", "b"), op("i32", 7)}), true},
		"$and fails":                        {op("$and", bson.A{op("s", "b"), op("i32", 8)}), false},
		"$or none":                          {op("$or", bson.A{op("s", "c"), op("i32", 8)}), false},
		"field of array items in an array":  {op("people.tags", "x"), true},
		"missing field of array items":      {op("people.age", op("$exists", true)), false},
		"index past the end":                {op("nums.7", op("$exists", false)), true},
		"leading zeros index (as Python)":   {op("nums.01", 10), true},
		"huge index":                        {op("nums.99999999999999999999", op("$exists", false)), true},
	} {
		got, err := check(t, doc, tc.filter)
		if err != nil || got != tc.want {
			t.Errorf("%s %v: got %v, %v; want %v", name, tc.filter, got, err, tc.want)
		}
	}
}

func TestMatcherLeavesWhatItCannotJudgeToFerretDB(t *testing.T) {
	doc := bson.D{{Key: "d", Value: must(primitive.ParseDecimal128("3"))}, {Key: "sym", Value: primitive.Symbol("x")},
		{Key: "a", Value: bson.A{bson.D{{Key: "b", Value: 1}}, bson.D{}}}, {Key: "n", Value: 1}}
	op := func(name string, v any) bson.D { return bson.D{{Key: name, Value: v}} }
	for name, filter := range map[string]bson.D{
		"$regex":                    op("s", op("$regex", "o")),
		"a regular expression":      op("s", primitive.Regex{Pattern: "o"}),
		"$in a regular expression":  op("s", op("$in", bson.A{primitive.Regex{Pattern: "o"}})),
		"$elemMatch":                op("a", op("$elemMatch", op("b", 1))),
		"$size":                     op("a", op("$size", 2)),
		"$not":                      op("n", op("$not", op("$gt", 1))),
		"$nor":                      op("$nor", bson.A{op("n", 1)}),
		"$expr":                     op("$expr", true),
		"$where":                    op("$where", "true"),
		"empty $or":                 op("$or", bson.A{}),
		"$in of a scalar":           op("n", op("$in", 1)),
		"operators mixed with keys": op("n", bson.D{{Key: "$gt", Value: 0}, {Key: "x", Value: 1}}),
		"$lt null":                  op("n", op("$lt", nil)),
		"$lt a document":            op("n", op("$lt", bson.D{})),
		"$gt NaN":                   op("n", op("$gt", math.NaN())),
		"a decimal128 operand":      op("n", must(primitive.ParseDecimal128("1"))),
		"a stored decimal128":       op("d", 3),
		"a stored decimal128 order": op("d", op("$gt", 2)),
		"a stored symbol":           op("sym", "x"),
		"null through an array":     op("a.b", nil),
		"$ne null through an array": op("a.b", op("$ne", nil)),
		"empty path part":           op("a..b", 1),
	} {
		if _, err := check(t, doc, filter); !errors.Is(err, errUnsupported) {
			t.Errorf("%s: %v, want errUnsupported", name, err)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
