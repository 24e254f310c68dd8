package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"testing"
)

// doc returns a BSON document of the given elements (see element).
func doc(elements ...[]byte) []byte {
	body := bytes.Join(elements, nil)
	out := binary.LittleEndian.AppendUint32(nil, uint32(4+len(body)+1))
	return append(append(out, body...), 0)
}

// element returns one BSON element: type, name and the value's bytes.
func element(kind byte, name string, value []byte) []byte {
	return append(append(append([]byte{kind}, name...), 0), value...)
}

// command returns a command document {name: 1, extra...}.
func command(name string, extra ...[]byte) []byte {
	return doc(append([][]byte{element(0x10, name, binary.LittleEndian.AppendUint32(nil, 1))}, extra...)...)
}

// sequence returns an OP_MSG kind 1 section holding docs under identifier.
func sequence(identifier string, docs ...[]byte) []byte {
	payload := append(append([]byte(identifier), 0), bytes.Join(docs, nil)...)
	return append(binary.LittleEndian.AppendUint32([]byte{1}, uint32(4+len(payload))), payload...)
}

// withHeader returns body behind a header with the right length.
func withHeader(requestID, responseTo, opCode int32, body []byte) message {
	m := binary.LittleEndian.AppendUint32(nil, uint32(headerLen+len(body)))
	for _, v := range []int32{requestID, responseTo, opCode} {
		m = binary.LittleEndian.AppendUint32(m, uint32(v))
	}
	return append(m, body...)
}

// opMsgOf returns an OP_MSG with the body document first, then any sequences, and a valid checksum when flagged.
func opMsgOf(requestID, responseTo int32, flags uint32, body []byte, sequences ...[]byte) message {
	payload := binary.LittleEndian.AppendUint32(nil, flags)
	payload = append(append(payload, 0), body...)
	payload = append(payload, bytes.Join(sequences, nil)...)
	if flags&flagChecksumPresent != 0 {
		payload = append(payload, 0, 0, 0, 0)
	}
	m := withHeader(requestID, responseTo, opMsg, payload)
	if flags&flagChecksumPresent != 0 {
		binary.LittleEndian.PutUint32(m[len(m)-4:], crc32.Checksum(m[:len(m)-4], castagnoliTab))
	}
	return m
}

// opQueryOf returns a legacy OP_QUERY of query against collection.
func opQueryOf(requestID int32, collection string, query []byte) message {
	body := binary.LittleEndian.AppendUint32(nil, 0)
	body = append(append(body, collection...), 0)
	body = binary.LittleEndian.AppendUint32(body, 0)
	body = binary.LittleEndian.AppendUint32(body, uint32(0xFFFFFFFF)) // numberToReturn -1
	return withHeader(requestID, 0, opQuery, append(body, query...))
}

func TestReadMessageReturnsWholeMessagesThenEOF(t *testing.T) {
	first := opMsgOf(1, 0, 0, command("insert"))
	second := opMsgOf(2, 0, 0, command("find"))
	r := bytes.NewReader(append(append([]byte(nil), first...), second...))
	for _, want := range []message{first, second} {
		got, err := readMessage(r)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("got %v, %v; want %v", got, err, want)
		}
	}
	if _, err := readMessage(r); err != io.EOF {
		t.Fatalf("after the last message: %v, want io.EOF", err)
	}
}

func TestReadMessageRefusesLengthsOutsideTheProtocol(t *testing.T) {
	for _, length := range []int32{0, 15, -1, maxMessageLen + 1} {
		raw := binary.LittleEndian.AppendUint32(nil, uint32(length))
		raw = append(raw, make([]byte, 12)...)
		if _, err := readMessage(bytes.NewReader(raw)); !errors.Is(err, errBadLength) {
			t.Errorf("length %d: %v, want errBadLength", length, err)
		}
	}
}

func TestReadMessageReportsATruncatedMessage(t *testing.T) {
	whole := opMsgOf(1, 0, 0, command("find"))
	for _, cut := range []int{2, headerLen, len(whole) - 1} {
		if _, err := readMessage(bytes.NewReader(whole[:cut])); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut at %d: %v, want io.ErrUnexpectedEOF", cut, err)
		}
	}
}

func TestCommandNameIsTheFirstKeyOfTheBodySection(t *testing.T) {
	inserted := doc(element(0x02, "_id", append(binary.LittleEndian.AppendUint32(nil, 2), 'a', 0)))
	bodyAfterSequence := binary.LittleEndian.AppendUint32(nil, 0)
	bodyAfterSequence = append(bodyAfterSequence, sequence("documents", inserted, inserted)...)
	bodyAfterSequence = append(append(bodyAfterSequence, 0), command("insert")...)
	for name, tc := range map[string]struct {
		m    message
		want string
	}{
		"plain":                 {opMsgOf(1, 0, 0, command("findAndModify", element(0x08, "new", []byte{1}))), "findAndModify"},
		"bulk insert":           {opMsgOf(1, 0, 0, command("insert"), sequence("documents", inserted, inserted)), "insert"},
		"sequence before body":  {withHeader(1, 0, opMsg, bodyAfterSequence), "insert"},
		"checksum present":      {opMsgOf(1, 0, flagChecksumPresent, command("update")), "update"},
		"fire and forget":       {opMsgOf(1, 0, flagMoreToCome, command("delete")), "delete"},
		"legacy handshake":      {opQueryOf(1, "admin.$cmd", command("isMaster")), "isMaster"},
		"legacy with $query":    {opQueryOf(1, "admin.$cmd", doc(element(0x03, "$query", command("hello")))), "hello"},
		"legacy first key only": {opQueryOf(1, "admin.$cmd", command("saslStart")), "saslStart"},
	} {
		got, err := tc.m.commandName()
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", name, got, err, tc.want)
		}
	}
}

func TestCommandNameRefusesMessagesItCannotRead(t *testing.T) {
	truncatedSection := opMsgOf(1, 0, 0, command("insert"))
	binary.LittleEndian.PutUint32(truncatedSection[headerLen+5:], 1000) // body document longer than the message
	badKind := opMsgOf(1, 0, 0, command("insert"))
	badKind[headerLen+4] = 7
	unterminatedName := opMsgOf(1, 0, 0, doc([]byte{0x10, 'i', 'n'}))
	for name, m := range map[string]message{
		"empty command":       opMsgOf(1, 0, 0, doc()),
		"truncated section":   truncatedSection,
		"unknown section":     badKind,
		"unterminated name":   unterminatedName,
		"no sections":         withHeader(1, 0, opMsg, []byte{0, 0, 0, 0}),
		"legacy insert":       withHeader(1, 0, 2002, []byte{0, 0, 0, 0}),
		"compressed":          withHeader(1, 0, opCompressed, make([]byte, 9)),
		"legacy without body": opQueryOf(1, "admin.$cmd", nil),
	} {
		if got, err := m.commandName(); err == nil {
			t.Errorf("%s: got %q and no error", name, got)
		}
	}
}

func TestWithoutMoreToComeClearsTheFlagAndKeepsTheChecksumValid(t *testing.T) {
	original := opMsgOf(7, 0, flagMoreToCome|flagChecksumPresent|flagExhaustAllowed, command("insert"))
	kept := append(message(nil), original...)
	cleared := original.withoutMoreToCome()
	if got := cleared.msgFlags(); got != flagChecksumPresent|flagExhaustAllowed {
		t.Errorf("flags %#x", got)
	}
	end := len(cleared) - 4
	if crc32.Checksum(cleared[:end], castagnoliTab) != binary.LittleEndian.Uint32(cleared[end:]) {
		t.Error("checksum no longer matches the message")
	}
	if !bytes.Equal(original, kept) {
		t.Error("the original message was modified")
	}
	plain := opMsgOf(8, 0, 0, command("insert"))
	if got := plain.withoutMoreToCome(); &got[0] != &plain[0] {
		t.Error("a message without moreToCome should pass unchanged")
	}
}

func TestEveryCommandNotKnownReadOnlyIsAWrite(t *testing.T) {
	for _, name := range []string{"insert", "update", "delete", "findAndModify", "findandmodify", "create",
		"createIndexes", "drop", "dropDatabase", "dropIndexes", "renameCollection", "collMod", "compact",
		"createUser", "bulkWrite", "aFutureCommand", ""} {
		if !isWrite(name) {
			t.Errorf("%q passes as a read", name)
		}
	}
	for _, name := range []string{"find", "getMore", "aggregate", "count", "hello", "isMaster", "ping", "listIndexes"} {
		if isWrite(name) {
			t.Errorf("%q is held as a write", name)
		}
	}
}
