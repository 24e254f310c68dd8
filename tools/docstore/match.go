package main

// Values compared the way MongoDB compares them, for the conditions cond.go compiles: the
// values at a dotted path (followed through arrays like shared/matching.py), equality by value,
// and order within one type bracket (numbers, strings, datetimes). Where the answer needs what
// is not modelled here (decimal128, symbols) the functions return errUnsupported, and the gate
// leaves the command to FerretDB.

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"

	"go.mongodb.org/mongo-driver/bson"
)

// errUnsupported marks a condition (or a stored value) this matcher cannot judge; FerretDB has to.
var errUnsupported = errors.New("not supported by the gate's matcher")

// unsupportedError is errUnsupported naming what is not supported (an operator, a type).
type unsupportedError string

// Error returns the message naming what is not supported.
func (e unsupportedError) Error() string { return fmt.Sprintf("%v: %s", errUnsupported, string(e)) }

// Is reports that e is errUnsupported.
func (e unsupportedError) Is(target error) bool { return target == errUnsupported }

// unsupported returns errUnsupported naming what is not supported.
func unsupported(what string) error {
	return unsupportedError(what)
}

// valuesAt returns every value at path under v, following arrays like shared/matching.py
// (missing → none), and whether an array was expanded on the way (a non-index part over an array).
func valuesAt(v bson.RawValue, path []string) ([]bson.RawValue, bool) {
	var found []bson.RawValue
	expanded := collect(v, path, &found)
	return found, expanded
}

// collect appends the values at path under v to found and reports whether it expanded an array.
func collect(v bson.RawValue, path []string, found *[]bson.RawValue) bool {
	if len(path) == 0 {
		*found = append(*found, v)
		return false
	}
	head, rest := path[0], path[1:]
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		field, err := v.Document().LookupErr(head)
		if err != nil {
			return false
		}
		return collect(field, rest, found)
	case bson.TypeArray:
		items, _ := v.Array().Values()
		if index, ok := arrayIndex(head); ok {
			if index < len(items) {
				return collect(items[index], rest, found)
			}
			return false
		}
		for _, item := range items {
			if item.Type == bson.TypeEmbeddedDocument || item.Type == bson.TypeArray {
				collect(item, path, found)
			}
		}
		return true
	default:
		return false
	}
}

// arrayIndex returns the array index a path part names when it is all ASCII digits (as Python's
// int() of str.isdigit() text); an index too large for an int is returned as MaxInt (past any end).
func arrayIndex(part string) (int, bool) {
	if part == "" {
		return 0, false
	}
	for i := 0; i < len(part); i++ {
		if part[i] < '0' || part[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(part)
	if err != nil {
		return math.MaxInt, true
	}
	return n, true
}

// equalsAny returns whether a candidate equals expected or is an array holding it; no candidates
// (a missing field) equals null.
func equalsAny(candidates []bson.RawValue, expected bson.RawValue) (bool, error) {
	if len(candidates) == 0 {
		return expected.Type == bson.TypeNull, nil
	}
	for _, c := range candidates {
		if eq, err := equal(c, expected); eq || err != nil {
			return eq, err
		}
		if c.Type != bson.TypeArray {
			continue
		}
		items, _ := c.Array().Values()
		for _, item := range items {
			if eq, err := equal(item, expected); eq || err != nil {
				return eq, err
			}
		}
	}
	return false, nil
}

// equal returns whether two values are equal as MongoDB compares them: numbers by value across
// int32, int64 and double, documents field by field in order, arrays item by item, the rest byte
// for byte within one type.
func equal(a, b bson.RawValue) (bool, error) {
	if isNumber(a) && isNumber(b) {
		if a.Type == bson.TypeDecimal128 || b.Type == bson.TypeDecimal128 {
			if a.Type == b.Type && bytes.Equal(a.Value, b.Value) {
				return true, nil
			}
			return false, unsupported("decimal128 value")
		}
		c, ok := compareNumbers(a, b)
		return ok && c == 0 || isNaN(a) && isNaN(b), nil
	}
	if isStringLike(a) && isStringLike(b) && a.Type != b.Type {
		return false, unsupported("symbol value")
	}
	if a.Type != b.Type {
		return false, nil
	}
	switch a.Type {
	case bson.TypeEmbeddedDocument:
		return equalDocuments(a.Document(), b.Document(), false)
	case bson.TypeArray:
		return equalDocuments(a.Array(), b.Array(), true)
	default:
		return bytes.Equal(a.Value, b.Value), nil
	}
}

// equalDocuments returns whether two documents (or arrays, ignoring their index keys) hold equal elements in the same order.
func equalDocuments(a, b bson.Raw, array bool) (bool, error) {
	ea, errA := a.Elements()
	eb, errB := b.Elements()
	if errA != nil || errB != nil {
		return false, unsupported("malformed BSON")
	}
	if len(ea) != len(eb) {
		return false, nil
	}
	for i := range ea {
		if !array && ea[i].Key() != eb[i].Key() {
			return false, nil
		}
		if eq, err := equal(ea[i].Value(), eb[i].Value()); !eq || err != nil {
			return false, err
		}
	}
	return true, nil
}

// order returns how a compares with b (-1, 0, 1) and whether they compare at all: numbers with
// numbers (NaN with nothing), strings with strings by UTF-8 bytes, datetimes with datetimes.
func order(a, b bson.RawValue) (int, bool, error) {
	switch {
	case isNumber(a) && isNumber(b):
		if a.Type == bson.TypeDecimal128 || b.Type == bson.TypeDecimal128 {
			return 0, false, unsupported("decimal128 value")
		}
		c, ok := compareNumbers(a, b)
		return c, ok, nil
	case isStringLike(a) && isStringLike(b):
		if a.Type != b.Type {
			return 0, false, unsupported("symbol value")
		}
		return bytes.Compare(stringBytes(a), stringBytes(b)), true, nil
	case a.Type == bson.TypeDateTime && b.Type == bson.TypeDateTime:
		return cmp64(a.DateTime(), b.DateTime()), true, nil
	default:
		return 0, false, nil
	}
}

// compareNumbers returns how two int32, int64 or double values compare, exactly; false if either is NaN.
func compareNumbers(a, b bson.RawValue) (int, bool) {
	ai, aInt := integer(a)
	bi, bInt := integer(b)
	switch {
	case aInt && bInt:
		return cmp64(ai, bi), true
	case aInt:
		c, ok := compareIntFloat(ai, b.Double())
		return c, ok
	case bInt:
		c, ok := compareIntFloat(bi, a.Double())
		return -c, ok
	default:
		x, y := a.Double(), b.Double()
		if math.IsNaN(x) || math.IsNaN(y) {
			return 0, false
		}
		return cmpFloat(x, y), true
	}
}

// compareIntFloat returns how i compares with f without rounding either; false if f is NaN.
func compareIntFloat(i int64, f float64) (int, bool) {
	switch {
	case math.IsNaN(f):
		return 0, false
	case f >= math.Exp2(63):
		return -1, true
	case f < -math.Exp2(63):
		return 1, true
	}
	whole := int64(f) // exact: f is within int64's range
	if c := cmp64(i, whole); c != 0 {
		return c, true
	}
	return cmpFloat(0, f-float64(whole)), true
}

// integer returns an int32 or int64 value as an int64.
func integer(v bson.RawValue) (int64, bool) {
	switch v.Type {
	case bson.TypeInt32:
		return int64(v.Int32()), true
	case bson.TypeInt64:
		return v.Int64(), true
	}
	return 0, false
}

func cmp64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// isNumber reports whether v is in MongoDB's number bracket.
func isNumber(v bson.RawValue) bool {
	switch v.Type {
	case bson.TypeInt32, bson.TypeInt64, bson.TypeDouble, bson.TypeDecimal128:
		return true
	}
	return false
}

// isNaN reports whether v is a double NaN.
func isNaN(v bson.RawValue) bool {
	return v.Type == bson.TypeDouble && math.IsNaN(v.Double())
}

// isStringLike reports whether v is a string or a symbol (one bracket in MongoDB).
func isStringLike(v bson.RawValue) bool {
	return v.Type == bson.TypeString || v.Type == bson.TypeSymbol
}

// stringBytes returns a string or symbol value's UTF-8 bytes.
func stringBytes(v bson.RawValue) []byte {
	if v.Type == bson.TypeSymbol {
		return []byte(v.Symbol())
	}
	return []byte(v.StringValue())
}
