package main

// OP_MSG taken apart into its sections and put back together, for the few requests the gate
// rewrites (guarded.go) and the replies it reads or makes. Everything else is forwarded byte for
// byte (wire.go).

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"go.mongodb.org/mongo-driver/bson"
)

// opMsgParts is an OP_MSG's flags and sections in their order.
type opMsgParts struct {
	flags    uint32
	sections []msgSection
}

// msgSection is a body section (kind 0: doc) or a document sequence (kind 1: identifier, docs).
type msgSection struct {
	kind       byte
	doc        bson.Raw
	identifier string
	docs       []bson.Raw
}

// parseOpMsg returns the sections of an OP_MSG whose documents are all valid BSON.
func parseOpMsg(m message) (*opMsgParts, error) {
	if m.header().opCode != opMsg || len(m) < headerLen+5 {
		return nil, errMalformed
	}
	body := m[headerLen:]
	parts := &opMsgParts{flags: binary.LittleEndian.Uint32(body)}
	end := len(body)
	if parts.flags&flagChecksumPresent != 0 {
		end -= 4
	}
	for pos := 4; pos < end; {
		kind := body[pos]
		pos++
		size, ok := int32At(body[:end], pos)
		if !ok || size < 5 || pos+size > end {
			return nil, errMalformed
		}
		section, err := parseSection(kind, body[pos:pos+size])
		if err != nil {
			return nil, err
		}
		parts.sections = append(parts.sections, section)
		pos += size
	}
	return parts, nil
}

// parseSection returns one section from its bytes (a kind 1 section's size counts itself).
func parseSection(kind byte, b []byte) (msgSection, error) {
	switch kind {
	case 0:
		doc := bson.Raw(b)
		if err := doc.Validate(); err != nil {
			return msgSection{}, fmt.Errorf("%w: %w", errMalformed, err)
		}
		return msgSection{kind: 0, doc: doc}, nil
	case 1:
		nul := indexNUL(b, 4)
		if nul < 0 {
			return msgSection{}, errMalformed
		}
		s := msgSection{kind: 1, identifier: string(b[4:nul])}
		for pos := nul + 1; pos < len(b); {
			size, ok := int32At(b, pos)
			if !ok || size < 5 || pos+size > len(b) {
				return msgSection{}, errMalformed
			}
			doc := bson.Raw(b[pos : pos+size])
			if err := doc.Validate(); err != nil {
				return msgSection{}, fmt.Errorf("%w: %w", errMalformed, err)
			}
			s.docs = append(s.docs, doc)
			pos += size
		}
		return s, nil
	default:
		return msgSection{}, fmt.Errorf("%w: section kind %d", errMalformed, kind)
	}
}

// body returns the body document (kind 0 section), or nil.
func (p *opMsgParts) body() bson.Raw {
	for _, s := range p.sections {
		if s.kind == 0 {
			return s.doc
		}
	}
	return nil
}

// sequence returns the documents of the sequence with this identifier and whether there is one
// (none are returned when two sections carry the identifier).
func (p *opMsgParts) sequence(identifier string) ([]bson.Raw, bool) {
	var docs []bson.Raw
	found := 0
	for _, s := range p.sections {
		if s.kind == 1 && s.identifier == identifier {
			docs = s.docs
			found++
		}
	}
	if found > 1 {
		return nil, true
	}
	return docs, found == 1
}

// encode returns the OP_MSG with these ids, its checksum recomputed when its flags call for one.
func (p *opMsgParts) encode(requestID, responseTo int32) message {
	m := make(message, headerLen, 256)
	binary.LittleEndian.PutUint32(m[4:], uint32(requestID))
	binary.LittleEndian.PutUint32(m[8:], uint32(responseTo))
	binary.LittleEndian.PutUint32(m[12:], opMsg)
	m = binary.LittleEndian.AppendUint32(m, p.flags)
	for _, s := range p.sections {
		m = append(m, s.kind)
		if s.kind == 0 {
			m = append(m, s.doc...)
			continue
		}
		size := 4 + len(s.identifier) + 1
		for _, d := range s.docs {
			size += len(d)
		}
		m = binary.LittleEndian.AppendUint32(m, uint32(size))
		m = append(append(m, s.identifier...), 0)
		for _, d := range s.docs {
			m = append(m, d...)
		}
	}
	if p.flags&flagChecksumPresent != 0 {
		m = append(m, 0, 0, 0, 0)
	}
	binary.LittleEndian.PutUint32(m, uint32(len(m)))
	if p.flags&flagChecksumPresent != 0 {
		end := len(m) - 4
		binary.LittleEndian.PutUint32(m[end:], crc32.Checksum(m[:end], castagnoliTab))
	}
	return m
}

// opMsgReply returns an OP_MSG holding just the body document, answering responseTo.
func opMsgReply(requestID, responseTo int32, body bson.Raw) message {
	return (&opMsgParts{sections: []msgSection{{kind: 0, doc: body}}}).encode(requestID, responseTo)
}

// replaceField returns doc with the value of its element key replaced (order and other elements kept).
func replaceField(doc bson.Raw, key string, value any) (bson.Raw, error) {
	elements, err := doc.Elements()
	if err != nil {
		return nil, err
	}
	out := make(bson.D, 0, len(elements))
	for _, e := range elements {
		if e.Key() == key {
			out = append(out, bson.E{Key: key, Value: value})
		} else {
			out = append(out, bson.E{Key: e.Key(), Value: e.Value()})
		}
	}
	return bson.Marshal(out)
}
