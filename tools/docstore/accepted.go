package main

// What FerretDB v1.24.2 accepts in the write commands the gate answers itself. The gate says
// "nothing matched" only of commands FerretDB would run: one with a field FerretDB refuses
// (`fields`, `let`, `collation`, `arrayFilters`, anything unknown) or an update operator it does
// not know goes to FerretDB unchanged, so its error reaches the client whether or not the
// condition holds. The lists are the fields its handlers take or ignore
// (internal/handler/common/*_params.go, findandmodify.go) and its update operators (update.go).

import (
	"strings"

	"go.mongodb.org/mongo-driver/bson"
)

// commonFields are the fields FerretDB takes or ignores in every write command.
var commonFields = []string{"$db", "comment", "maxTimeMS", "writeConcern", "lsid", "txnNumber", "$clusterTime",
	"$readPreference", "apiVersion", "apiStrict", "apiDeprecationErrors"}

// acceptedFields maps a command (and "<command>.statement") to the fields FerretDB accepts there.
var acceptedFields = map[string]map[string]bool{
	"update":           setOf(commonFields, "update", "updates", "ordered", "bypassDocumentValidation", "bypassEmptyTsReplacement", "autocommit"),
	"update.statement": setOf(nil, "q", "u", "multi", "upsert", "hint"),
	"delete":           setOf(commonFields, "delete", "deletes", "ordered"),
	"delete.statement": setOf(nil, "q", "limit", "hint"),
	"findAndModify": setOf(commonFields, "findAndModify", "findandmodify", "query", "sort", "update", "remove", "upsert",
		"new", "hint", "bypassDocumentValidation", "bypassEmptyTsReplacement"),
}

// updateOperators are the update operators FerretDB v1.24.2 applies.
var updateOperators = setOf(nil, "$currentDate", "$set", "$setOnInsert", "$unset", "$inc", "$max", "$min", "$mul",
	"$rename", "$pop", "$push", "$addToSet", "$pull", "$pullAll", "$bit")

// setOf returns the set of the names in both arguments.
func setOf(names []string, more ...string) map[string]bool {
	set := make(map[string]bool, len(names)+len(more))
	for _, n := range append(append([]string(nil), names...), more...) {
		set[n] = true
	}
	return set
}

// onlyAccepted reports whether every field of doc is one FerretDB accepts for what ("update", "update.statement", ...).
func onlyAccepted(doc bson.Raw, what string) bool {
	elements, err := doc.Elements()
	if err != nil {
		return false
	}
	accepted := acceptedFields[what]
	for _, e := range elements {
		if !accepted[e.Key()] {
			return false
		}
	}
	return true
}

// updateAccepted reports whether an update is a document FerretDB applies: operators it knows, or a replacement.
func updateAccepted(u bson.RawValue) bool {
	doc, ok := u.DocumentOK()
	if !ok {
		return false // a pipeline, which FerretDB v1 refuses
	}
	elements, err := doc.Elements()
	if err != nil {
		return false
	}
	operators := 0
	for _, e := range elements {
		if strings.HasPrefix(e.Key(), "$") {
			if !updateOperators[e.Key()] {
				return false
			}
			operators++
		}
	}
	return operators == 0 || operators == len(elements)
}
