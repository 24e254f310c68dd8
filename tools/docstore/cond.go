package main

// Query conditions the gate can check itself: the subset shared/matching.py supports (equality,
// $eq, $ne, $in, $nin, $exists, $lt, $lte, $gt, $gte, $and, $or), with its semantics. Where Python
// and MongoDB part ways the gate follows MongoDB (true is not 1, documents compare in field order,
// values of different types never compare) or, for null through an expanded array, where the two
// disagree, leaves the decision to FerretDB. compile returns errUnsupported naming anything else.

import (
	"strings"

	"go.mongodb.org/mongo-driver/bson"
)

// condition is a compiled query condition.
type condition interface {
	// matches returns whether doc satisfies the condition, or errUnsupported when only FerretDB can tell.
	matches(doc bson.RawValue) (bool, error)
}

// allOf holds when every part holds (a filter's fields, $and).
type allOf []condition

// anyOf holds when some part holds ($or).
type anyOf []condition

// fieldTest is one operator applied to the values at a path.
type fieldTest struct {
	path    []string
	op      string          // "$eq", "$ne", "$in", "$nin", "$exists", "$lt", "$lte", "$gt" or "$gte"
	operand bson.RawValue   // the operand ($exists: its truth as a bool)
	list    []bson.RawValue // $in and $nin
}

// compile returns the condition a filter document expresses, or errUnsupported naming what it cannot check.
func compile(filter bson.Raw) (condition, error) {
	elements, err := filter.Elements()
	if err != nil {
		return nil, unsupported("malformed filter")
	}
	return compileElements(elements)
}

// compileElements returns the condition that all of a filter's elements hold.
func compileElements(elements []bson.RawElement) (condition, error) {
	all := allOf{}
	for _, e := range elements {
		part, err := compileElement(e.Key(), e.Value())
		if err != nil {
			return nil, err
		}
		all = append(all, part)
	}
	return all, nil
}

// compileElement returns the condition of one filter element: $and, $or or a field.
func compileElement(key string, value bson.RawValue) (condition, error) {
	switch {
	case key == "$and" || key == "$or":
		branches, ok := value.ArrayOK()
		var items []bson.RawValue
		if ok {
			items, _ = branches.Values()
		}
		if len(items) == 0 {
			return nil, unsupported(key + " without a non-empty array")
		}
		parts := make([]condition, 0, len(items))
		for _, item := range items {
			doc, ok := item.DocumentOK()
			if !ok {
				return nil, unsupported(key + " entry that is not a document")
			}
			part, err := compile(doc)
			if err != nil {
				return nil, err
			}
			parts = append(parts, part)
		}
		if key == "$and" {
			return allOf(parts), nil
		}
		return anyOf(parts), nil
	case strings.HasPrefix(key, "$"):
		return nil, unsupported(key)
	}
	path := strings.Split(key, ".")
	for _, part := range path {
		if part == "" {
			return nil, unsupported("empty field name")
		}
	}
	return compileField(path, value)
}

// compileField returns the condition on one path: equality to value, or its operators.
func compileField(path []string, value bson.RawValue) (condition, error) {
	operators, isOperators, err := operatorsOf(value)
	if err != nil {
		return nil, err
	}
	if !isOperators {
		if err := checkEqualityOperand(value); err != nil {
			return nil, err
		}
		return fieldTest{path: path, op: "$eq", operand: value}, nil
	}
	all := allOf{}
	for _, e := range operators {
		test, err := compileOperator(path, e.Key(), e.Value())
		if err != nil {
			return nil, err
		}
		all = append(all, test)
	}
	return all, nil
}

// operatorsOf returns a field's operators when value is a non-empty document of $ keys only;
// a document mixing $ keys and fields is refused, as MongoDB refuses it.
func operatorsOf(value bson.RawValue) ([]bson.RawElement, bool, error) {
	doc, ok := value.DocumentOK()
	if !ok {
		return nil, false, nil
	}
	elements, err := doc.Elements()
	if err != nil || len(elements) == 0 {
		return nil, false, err
	}
	dollars := 0
	for _, e := range elements {
		if strings.HasPrefix(e.Key(), "$") {
			dollars++
		}
	}
	switch dollars {
	case 0:
		return nil, false, nil
	case len(elements):
		return elements, true, nil
	default:
		return nil, false, unsupported("document mixing operators and fields")
	}
}

// compileOperator returns the test one operator applies at path.
func compileOperator(path []string, op string, operand bson.RawValue) (condition, error) {
	test := fieldTest{path: path, op: op, operand: operand}
	switch op {
	case "$eq", "$ne":
		return test, checkEqualityOperand(operand)
	case "$in", "$nin":
		list, ok := operand.ArrayOK()
		if !ok {
			return nil, unsupported(op + " without an array")
		}
		test.list, _ = list.Values()
		for _, item := range test.list {
			if err := checkEqualityOperand(item); err != nil {
				return nil, err
			}
		}
		return test, nil
	case "$exists":
		truth, ok := truthOf(operand)
		if !ok {
			return nil, unsupported("$exists of a " + operand.Type.String())
		}
		test.operand = bson.RawValue{Type: bson.TypeBoolean, Value: []byte{boolByte(truth)}}
		return test, nil
	case "$lt", "$lte", "$gt", "$gte":
		if !(isNumber(operand) || operand.Type == bson.TypeString || operand.Type == bson.TypeDateTime) ||
			operand.Type == bson.TypeDecimal128 || isNaN(operand) {
			return nil, unsupported(op + " of a " + operand.Type.String())
		}
		return test, nil
	default:
		return nil, unsupported(op)
	}
}

// checkEqualityOperand refuses what equality cannot judge byte for byte: regular expressions (a
// pattern match, not equality, in a filter), and types whose comparisons are not modelled.
func checkEqualityOperand(v bson.RawValue) error {
	switch v.Type {
	case bson.TypeDouble, bson.TypeString, bson.TypeBinary, bson.TypeObjectID, bson.TypeBoolean,
		bson.TypeDateTime, bson.TypeNull, bson.TypeInt32, bson.TypeInt64, bson.TypeTimestamp:
		return nil
	case bson.TypeEmbeddedDocument, bson.TypeArray:
		values, err := bson.Raw(v.Value).Values()
		if err != nil {
			return unsupported("malformed filter")
		}
		for _, item := range values {
			if err := checkEqualityOperand(item); err != nil {
				return err
			}
		}
		return nil
	default:
		return unsupported("a " + v.Type.String() + " operand")
	}
}

// truthOf returns the truth of a $exists operand (as Python's bool() and MongoDB take it).
func truthOf(v bson.RawValue) (bool, bool) {
	switch v.Type {
	case bson.TypeBoolean:
		return v.Boolean(), true
	case bson.TypeInt32, bson.TypeInt64:
		n, _ := integer(v)
		return n != 0, true
	case bson.TypeDouble:
		return v.Double() != 0, true
	case bson.TypeNull:
		return false, true
	}
	return false, false
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}
