package main

// Evaluating compiled conditions (cond.go) against a document.

import (
	"go.mongodb.org/mongo-driver/bson"
)

// matches returns whether every part holds (true for none).
func (c allOf) matches(doc bson.RawValue) (bool, error) {
	for _, part := range c {
		if ok, err := part.matches(doc); !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}

// matches returns whether some part holds.
func (c anyOf) matches(doc bson.RawValue) (bool, error) {
	for _, part := range c {
		if ok, err := part.matches(doc); ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

// matches returns whether the operator holds for the values at the test's path in doc.
func (t fieldTest) matches(doc bson.RawValue) (bool, error) {
	candidates, expanded := valuesAt(doc, t.path)
	switch t.op {
	case "$eq", "$ne":
		eq, err := t.equals(candidates, expanded, t.operand)
		if err != nil {
			return false, err
		}
		return eq == (t.op == "$eq"), nil
	case "$in", "$nin":
		found := false
		for _, item := range t.list {
			eq, err := t.equals(candidates, expanded, item)
			if err != nil {
				return false, err
			}
			if eq {
				found = true
				break
			}
		}
		return found == (t.op == "$in"), nil
	case "$exists":
		return (len(candidates) > 0) == t.operand.Boolean(), nil
	default:
		return t.compares(candidates)
	}
}

// equals returns whether the candidates equal expected; null through an expanded array is
// MongoDB's to judge (it also counts array elements lacking the field, shared/matching.py does not).
func (t fieldTest) equals(candidates []bson.RawValue, expanded bool, expected bson.RawValue) (bool, error) {
	if expanded && expected.Type == bson.TypeNull {
		return false, unsupported("null compared through an array")
	}
	return equalsAny(candidates, expected)
}

// compares returns whether a candidate, or an item of a candidate array, passes the order operator.
func (t fieldTest) compares(candidates []bson.RawValue) (bool, error) {
	for _, c := range candidates {
		items := []bson.RawValue{c}
		if c.Type == bson.TypeArray {
			items, _ = c.Array().Values()
		}
		for _, item := range items {
			if item.Type == bson.TypeNull {
				continue
			}
			c, ok, err := order(item, t.operand)
			if err != nil {
				return false, err
			}
			if ok && passes(t.op, c) {
				return true, nil
			}
		}
	}
	return false, nil
}

// passes returns whether an ordering result c (item against operand) satisfies op.
func passes(op string, c int) bool {
	switch op {
	case "$lt":
		return c < 0
	case "$lte":
		return c <= 0
	case "$gt":
		return c > 0
	default: // $gte
		return c >= 0
	}
}
