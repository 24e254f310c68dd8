package main

// A client's find of one document by `_id`, answered from the gate's document cache (doccache.go)
// when it holds the document and the find asks for nothing the gate does not do itself: a filter
// of `_id` alone, a limit or batch size, and a projection that includes or excludes top-level
// fields. Anything else, or a document not cached, goes to FerretDB as before, and what it finds
// is cached when the cache may take it (doccache.go).

import (
	"io"
	"strings"

	"go.mongodb.org/mongo-driver/bson"
)

// ignoredFindFields are the fields of a find command that do not change its answer here.
var ignoredFindFields = map[string]bool{"lsid": true, "$clusterTime": true, "$readPreference": true, "$db": true}

// find returns the reply to a client's find: from the cache when it may answer, else FerretDB's,
// which is cached when it is the whole of one document found by `_id` and no write got in its way.
func (g *gate) find(request message, backend io.Writer, backendIn io.Reader) (message, error) {
	find, ok := readFindRequest(request)
	if g.cache == nil || !ok {
		return roundTrip(request, backend, backendIn)
	}
	if doc, found := g.cache.get(find.key); found {
		if reply := g.foundReply(request, find, doc); reply != nil {
			return reply, nil
		}
	}
	ticket, cacheable := g.cache.readStarts()
	reply, err := roundTrip(request, backend, backendIn)
	if err == nil && cacheable && len(find.projection) <= 5 { // none, or {}
		if doc, answered := firstFound(reply); answered && doc != nil {
			g.cache.readEnds(ticket, find.key, doc)
		}
	}
	return reply, err
}

// foundReply returns the reply to find holding doc, projected as asked, or nil if the gate cannot project it so.
func (g *gate) foundReply(request message, find oneFind, doc bson.Raw) message {
	projected, ok := project(doc, find.projection)
	if !ok {
		return nil
	}
	body, err := bson.Marshal(bson.D{
		{Key: "cursor", Value: bson.D{
			{Key: "firstBatch", Value: bson.A{projected}},
			{Key: "id", Value: int64(0)},
			{Key: "ns", Value: find.key.db + "." + find.key.collection},
		}},
		{Key: "ok", Value: 1.0},
	})
	if err != nil {
		return nil
	}
	return opMsgReply(g.ids.Add(1), request.header().requestID, body)
}

// readFindRequest returns the find an OP_MSG of one section asks for, if the cache may answer it.
func readFindRequest(request message) (oneFind, bool) {
	if request.header().opCode != opMsg {
		return oneFind{}, false
	}
	parts, err := parseOpMsg(request)
	if err != nil || len(parts.sections) != 1 || parts.body() == nil {
		return oneFind{}, false
	}
	return readFind(parts.body())
}

// oneFind is a find the cache may answer: the document's key and the projection asked for (nil: none).
type oneFind struct {
	key        docKey
	projection bson.Raw
}

// readFind returns the find a command body asks for, if the cache may answer it.
func readFind(body bson.Raw) (oneFind, bool) {
	elements, err := body.Elements()
	if err != nil {
		return oneFind{}, false
	}
	var collection, db string
	var id bson.RawValue
	var find oneFind
	for _, e := range elements {
		v, ok := e.Value(), false
		switch key := e.Key(); {
		case key == "find":
			collection, ok = v.StringValueOK()
		case key == "$db":
			db, ok = v.StringValueOK()
		case key == "filter":
			id, ok = onlyID(v)
		case key == "limit":
			n, isInt := integer(v)
			ok = isInt && n >= 0
		case key == "batchSize":
			n, isInt := integer(v)
			ok = isInt && n > 0
		case key == "singleBatch":
			_, ok = flagOf(body, key)
		case key == "projection":
			find.projection, ok = v.DocumentOK()
		default:
			ok = ignoredFindFields[key]
		}
		if !ok {
			return oneFind{}, false
		}
	}
	if collection == "" || db == "" || id.Type == 0 {
		return oneFind{}, false
	}
	find.key = keyOf(db, collection, id)
	return find, true
}

// onlyID returns the `_id` of a filter that names a document by `_id` (a string or ObjectID) and nothing else.
func onlyID(filter bson.RawValue) (bson.RawValue, bool) {
	if doc, isDoc := filter.DocumentOK(); !isDoc {
		return bson.RawValue{}, false
	} else if elements, err := doc.Elements(); err != nil || len(elements) != 1 {
		return bson.RawValue{}, false
	}
	return filterID(filter)
}

// project returns doc with a projection of top-level fields applied, as MongoDB does: all
// included (and `_id` unless excluded) or all excluded; false for any other projection.
func project(doc, projection bson.Raw) (bson.Raw, bool) {
	if len(projection) == 0 {
		return doc, true
	}
	fields, err := projection.Elements()
	if err != nil {
		return nil, false
	}
	if len(fields) == 0 {
		return doc, true
	}
	listed := map[string]bool{}
	keepID, including, excluding := true, false, false
	for _, f := range fields {
		name := f.Key()
		value, readable := flagOf(projection, name)
		if !readable || f.Value().Type == bson.TypeNull || strings.ContainsAny(name, ".$") || name == "" {
			return nil, false
		}
		if name == "_id" {
			keepID = value
			continue
		}
		listed[name] = true
		including, excluding = including || value, excluding || !value
	}
	if including && excluding {
		return nil, false
	}
	if !including && !excluding && keepID {
		including = true // {_id: 1} alone: the `_id` only
	}
	elements, err := doc.Elements()
	if err != nil {
		return nil, false
	}
	out := make(bson.D, 0, len(elements))
	for _, e := range elements {
		name := e.Key()
		kept := listed[name] == including
		if name == "_id" {
			kept = keepID
		}
		if kept {
			out = append(out, bson.E{Key: name, Value: e.Value()})
		}
	}
	projected, err := bson.Marshal(out)
	return projected, err == nil
}
