package main

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

func TestWritesPassOneAtATime(t *testing.T) {
	var inFlight, most atomic.Int32
	addr, _, _ := startGate(t, true, func(name string, request message) []message {
		now := inFlight.Add(1)
		for prev := most.Load(); now > prev && !most.CompareAndSwap(prev, now); prev = most.Load() {
		}
		time.Sleep(2 * time.Millisecond) // FerretDB reading, then writing, the document
		inFlight.Add(-1)
		return ok(request)
	})
	clients := make([]*client, 8)
	for i := range clients {
		clients[i] = connect(t, addr)
	}
	writes := []string{"insert", "update", "delete", "findAndModify", "createIndexes", "dropDatabase"}
	err := inParallel(len(clients), func(i int) error {
		for j := range 5 {
			if _, err := clients[i].call(writes[(i+j)%len(writes)]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if most.Load() != 1 {
		t.Errorf("%d writes reached FerretDB at once", most.Load())
	}
}

func TestReadsRunAlongsideEachOtherAndAlongsideAWrite(t *testing.T) {
	const readers = 6
	readsTogether := barrier(readers)
	readsDone := make(chan struct{})
	writeStarted := make(chan struct{})
	var readsMet atomic.Int32
	var writeWaited atomic.Bool
	addr, _, _ := startGate(t, true, func(name string, request message) []message {
		switch name {
		case "update": // holds the gate until every read has been answered
			close(writeStarted)
			select {
			case <-readsDone:
				writeWaited.Store(true)
			case <-time.After(2 * time.Second):
			}
		case "find":
			if readsTogether() {
				readsMet.Add(1)
			}
		}
		return ok(request)
	})
	writer := connect(t, addr)
	wrote := make(chan error, 1)
	go func() { _, err := writer.call("update"); wrote <- err }()
	<-writeStarted
	clients := make([]*client, readers)
	for i := range clients {
		clients[i] = connect(t, addr)
	}
	if err := inParallel(readers, func(i int) error { _, err := clients[i].call("find"); return err }); err != nil {
		t.Fatal(err)
	}
	close(readsDone)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if readsMet.Load() != readers || !writeWaited.Load() {
		t.Errorf("%d of %d reads in FerretDB together; reads answered while the write was in flight: %v",
			readsMet.Load(), readers, writeWaited.Load())
	}
}

func TestWritesOverlapWhenSerialisationIsOff(t *testing.T) {
	const writers = 5
	together := barrier(writers)
	var met atomic.Int32
	addr, _, _ := startGate(t, false, func(name string, request message) []message {
		if together() {
			met.Add(1)
		}
		return ok(request)
	})
	clients := make([]*client, writers)
	for i := range clients {
		clients[i] = connect(t, addr)
	}
	if err := inParallel(writers, func(i int) error { _, err := clients[i].call("update"); return err }); err != nil {
		t.Fatal(err)
	}
	if met.Load() != writers {
		t.Errorf("only %d of %d writes were in FerretDB at once", met.Load(), writers)
	}
}

func TestAFireAndForgetWriteReachesFerretDBAsARequestAndItsReplyIsDropped(t *testing.T) {
	addr, fake, _ := startGate(t, true, func(name string, request message) []message { return ok(request) })
	c := connect(t, addr)
	if _, err := c.send("insert", flagMoreToCome|flagChecksumPresent); err != nil {
		t.Fatal(err)
	}
	if _, err := c.call("find"); err != nil { // the first reply the client sees answers the find
		t.Fatal(err)
	}
	forwarded := fake.requests()[0]
	if forwarded.msgFlags() != flagChecksumPresent {
		t.Errorf("forwarded flags %#x", forwarded.msgFlags())
	}
	end := len(forwarded) - 4
	if crc32.Checksum(forwarded[:end], castagnoliTab) != binary.LittleEndian.Uint32(forwarded[end:]) {
		t.Error("forwarded checksum does not match")
	}
}

func TestAnExhaustStreamIsDeliveredWhole(t *testing.T) {
	addr, _, _ := startGate(t, true, func(name string, request message) []message {
		first := ok(request)[0]
		binary.LittleEndian.PutUint32(first[headerLen:], flagMoreToCome)
		second := opMsgOf(5000, first.header().requestID, 0, command("ok"))
		return []message{first, second}
	})
	c := connect(t, addr)
	if _, err := c.call("getMore"); err != nil {
		t.Fatal(err)
	}
	if second, err := readMessage(c.in); err != nil || second.header().requestID != 5000 {
		t.Fatalf("second reply of the stream: %v", err)
	}
}

func TestMessagesFerretDBCannotTakeCloseTheConnection(t *testing.T) {
	addr, fake, _ := startGate(t, true, func(name string, request message) []message { return ok(request) })
	for name, raw := range map[string]message{
		"compressed":    withHeader(1, 0, opCompressed, make([]byte, 20)),
		"legacy insert": withHeader(1, 0, 2002, make([]byte, 20)),
		"oversized":     binary.LittleEndian.AppendUint32(nil, maxMessageLen+1),
	} {
		c := connect(t, addr)
		if _, err := c.conn.Write(raw); err != nil {
			t.Fatal(err)
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.in.ReadByte(); !errors.Is(err, io.EOF) {
			t.Errorf("%s: %v, want the connection closed", name, err)
		}
	}
	if n := len(fake.requests()); n != 0 {
		t.Errorf("%d refused messages reached FerretDB", n)
	}
}

func TestAHangUpByFerretDBClosesTheClientAndFreesTheGate(t *testing.T) {
	addr, _, _ := startGate(t, true, func(name string, request message) []message {
		if name == "drop" {
			return nil
		}
		return ok(request)
	})
	if _, err := connect(t, addr).call("drop"); err == nil {
		t.Fatal("a reply arrived from a connection FerretDB closed")
	}
	done := make(chan error, 1)
	go func() { _, err := connect(t, addr).call("update"); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the gate stayed shut after FerretDB hung up during a write")
	}
}

func TestStoppingLetsAWriteInFlightFinishAndClosesIdleConnections(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	addr, _, stop := startGate(t, true, func(name string, request message) []message {
		if name == "update" {
			close(started)
			<-release
		}
		return ok(request)
	})
	idle, busy := connect(t, addr), connect(t, addr)
	if _, err := idle.call("ping"); err != nil {
		t.Fatal(err)
	}
	replied := make(chan error, 1)
	go func() { _, err := busy.call("update"); replied <- err }()
	<-started
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()

	_ = idle.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := idle.in.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("idle connection: %v, want closed", err)
	}
	select {
	case <-stopped:
		t.Fatal("stopped before the write in flight was answered")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-replied; err != nil {
		t.Errorf("the write in flight lost its reply: %v", err)
	}
	<-stopped
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("a stopped gate still accepts connections")
	}
}

func TestStoppingGivesUpOnARequestThatNeverEnds(t *testing.T) {
	hang := make(chan struct{})
	defer close(hang)
	started := make(chan struct{})
	addr, _, stop := startGate(t, true, func(name string, request message) []message {
		close(started)
		<-hang
		return nil
	})
	c := connect(t, addr)
	go func() { _, _ = c.call("update") }()
	<-started
	begun := time.Now()
	stop() // the drain timeout is a second in these tests
	if waited := time.Since(begun); waited > 3*time.Second {
		t.Errorf("stopping took %v", waited)
	}
}
