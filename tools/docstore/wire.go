package main

// The little of the MongoDB wire protocol the write gate needs: whole-message framing, the
// OP_MSG flag bits, and the name of the command a request carries. Messages are forwarded
// byte for byte; nothing here decodes BSON beyond the first key of a document.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

const (
	headerLen = 16
	// maxMessageLen is FerretDB's limit (and MongoDB's maxMessageSizeBytes).
	maxMessageLen = 48_000_000

	opReply      = 1
	opQuery      = 2004
	opCompressed = 2012
	opMsg        = 2013

	flagChecksumPresent = 1 << 0
	flagMoreToCome      = 1 << 1
	flagExhaustAllowed  = 1 << 16
)

var (
	errBadLength  = errors.New("message length out of range")
	errMalformed  = errors.New("malformed message")
	errNoCommand  = errors.New("message carries no command")
	castagnoliTab = crc32.MakeTable(crc32.Castagnoli)
)

// message is one whole wire message, its 16-byte header included.
type message []byte

// header holds the four int32 fields every message starts with.
type header struct {
	length, requestID, responseTo, opCode int32
}

// readMessage returns the next whole message from r; io.EOF means r ended cleanly between messages.
func readMessage(r io.Reader) (message, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err // io.EOF only when nothing at all was read
	}
	n := int32(binary.LittleEndian.Uint32(size[:]))
	if n < headerLen || n > maxMessageLen {
		return nil, fmt.Errorf("%w: %d", errBadLength, n)
	}
	m := make(message, n)
	copy(m, size[:])
	if _, err := io.ReadFull(r, m[4:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return m, nil
}

// header returns the message's header fields.
func (m message) header() header {
	return header{
		length:     int32(binary.LittleEndian.Uint32(m[0:])),
		requestID:  int32(binary.LittleEndian.Uint32(m[4:])),
		responseTo: int32(binary.LittleEndian.Uint32(m[8:])),
		opCode:     int32(binary.LittleEndian.Uint32(m[12:])),
	}
}

// msgFlags returns the flag bits of an OP_MSG (0 for any other opcode or a body too short to hold them).
func (m message) msgFlags() uint32 {
	if m.header().opCode != opMsg || len(m) < headerLen+4 {
		return 0
	}
	return binary.LittleEndian.Uint32(m[headerLen:])
}

// withoutMoreToCome returns the OP_MSG with moreToCome cleared and its checksum, if any, recomputed.
//
// The gate needs a reply to know when a write has finished, so a fire-and-forget request goes to
// FerretDB as an ordinary one and the gate drops the reply the client does not expect.
func (m message) withoutMoreToCome() message {
	flags := m.msgFlags()
	if flags&flagMoreToCome == 0 {
		return m
	}
	out := append(message(nil), m...)
	binary.LittleEndian.PutUint32(out[headerLen:], flags&^flagMoreToCome)
	if flags&flagChecksumPresent != 0 && len(out) >= headerLen+8 {
		end := len(out) - 4
		binary.LittleEndian.PutUint32(out[end:], crc32.Checksum(out[:end], castagnoliTab))
	}
	return out
}

// commandName returns the command an OP_MSG or OP_QUERY request carries: the first key of its body document.
func (m message) commandName() (string, error) {
	body := m[headerLen:]
	switch m.header().opCode {
	case opMsg:
		return opMsgCommand(body)
	case opQuery:
		return opQueryCommand(body)
	default:
		return "", errNoCommand
	}
}

// opMsgCommand returns the first key of the body (kind 0) section of an OP_MSG body.
func opMsgCommand(body []byte) (string, error) {
	if len(body) < 4 {
		return "", errMalformed
	}
	end := len(body)
	if binary.LittleEndian.Uint32(body)&flagChecksumPresent != 0 {
		end -= 4
	}
	for pos := 4; pos < end; {
		kind := body[pos]
		pos++
		size, ok := int32At(body[:end], pos)
		if !ok || size < 5 || pos+size > end {
			return "", errMalformed
		}
		switch kind {
		case 0: // the command document
			key, _, _, err := firstElement(body[pos : pos+size])
			return key, err
		case 1: // a document sequence (bulk insert, update, delete); its size counts itself
			pos += size
		default:
			return "", fmt.Errorf("%w: section kind %d", errMalformed, kind)
		}
	}
	return "", errNoCommand
}

// opQueryCommand returns the command of a legacy OP_QUERY (drivers' first handshake), unwrapping `$query`.
func opQueryCommand(body []byte) (string, error) {
	pos := 4 // flags
	nul := indexNUL(body, pos)
	if nul < 0 {
		return "", errMalformed
	}
	pos = nul + 1 + 8 // fullCollectionName, numberToSkip, numberToReturn
	size, ok := int32At(body, pos)
	if !ok || size < 5 || pos+size > len(body) {
		return "", errMalformed
	}
	key, kind, value, err := firstElement(body[pos : pos+size])
	if err == nil && key == "$query" && kind == 0x03 {
		key, _, _, err = firstElement(value)
	}
	return key, err
}

// firstElement returns the name and type of a BSON document's first element and, for an embedded
// document, its bytes.
func firstElement(doc []byte) (string, byte, []byte, error) {
	if len(doc) < 5 || doc[4] == 0 {
		return "", 0, nil, errNoCommand
	}
	kind := doc[4]
	nul := indexNUL(doc[:len(doc)-1], 5) // the last byte ends the document, not the name
	if nul < 0 {
		return "", 0, nil, errMalformed
	}
	name := string(doc[5:nul])
	var value []byte
	if kind == 0x03 {
		size, ok := int32At(doc, nul+1)
		if !ok || size < 5 || nul+1+size > len(doc) {
			return "", 0, nil, errMalformed
		}
		value = doc[nul+1 : nul+1+size]
	}
	return name, kind, value, nil
}

// int32At returns the little-endian int32 at pos and whether b holds one there.
func int32At(b []byte, pos int) (int, bool) {
	if pos < 0 || pos+4 > len(b) {
		return 0, false
	}
	return int(int32(binary.LittleEndian.Uint32(b[pos:]))), true
}

// indexNUL returns the index of the first zero byte at or after from, or -1.
func indexNUL(b []byte, from int) int {
	if from >= len(b) {
		return -1
	}
	if i := bytes.IndexByte(b[from:], 0); i >= 0 {
		return from + i
	}
	return -1
}
