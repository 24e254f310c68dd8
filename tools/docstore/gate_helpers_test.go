package main

// A stand-in for FerretDB and a client of the gate, for gate_test.go.

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeFerret stands in for FerretDB: one goroutine per connection, one reply per request
// (whatever its flags), each request answered by handle. A nil answer hangs up.
type fakeFerret struct {
	handle   func(command string, request message) []message
	mu       sync.Mutex
	received []message
}

// dial returns the gate's end of a new connection to the fake.
func (f *fakeFerret) dial() (net.Conn, error) {
	ours, theirs := net.Pipe()
	go f.serve(theirs)
	return ours, nil
}

func (f *fakeFerret) serve(conn net.Conn) {
	defer conn.Close()
	for {
		request, err := readMessage(conn)
		if err != nil {
			return
		}
		f.mu.Lock()
		f.received = append(f.received, request)
		f.mu.Unlock()
		name, _ := request.commandName()
		replies := f.handle(name, request)
		if replies == nil {
			return
		}
		for _, reply := range replies {
			if _, err := conn.Write(reply); err != nil {
				return
			}
		}
	}
}

// requests returns what the fake has received so far.
func (f *fakeFerret) requests() []message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]message(nil), f.received...)
}

// ok returns the one reply {ok: 1} to request.
func ok(request message) []message {
	one := binary.LittleEndian.AppendUint64(nil, math.Float64bits(1))
	return []message{opMsgOf(request.header().requestID+1000, request.header().requestID, 0, doc(element(0x01, "ok", one)))}
}

// startGate serves a gate in front of a fake FerretDB on a loopback port; it returns the address,
// the fake, and a function that stops the gate and returns once serve has returned.
func startGate(t *testing.T, serialize bool, handle func(string, message) []message) (string, *fakeFerret, func()) {
	t.Helper()
	return startGateWith(t, serialize, true, handle)
}

// startGateWith is startGate with conditional pushdown on or off.
func startGateWith(t *testing.T, serialize, pushdown bool, handle func(string, message) []message) (string, *fakeFerret, func()) {
	t.Helper()
	return startConfiguredGate(t, serialize, pushdown, nil, handle)
}

// startConfiguredGate is startGateWith with the gate's document cache (nil: none).
func startConfiguredGate(t *testing.T, serialize, pushdown bool, cache *docCache, handle func(string, message) []message) (string, *fakeFerret, func()) {
	t.Helper()
	fake := &fakeFerret{handle: handle}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := newGate(fake.dial, serialize, pushdown, slog.New(slog.NewTextHandler(io.Discard, nil)))
	g.drainFor = time.Second
	g.cache = cache
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { g.serve(ctx, ln); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return ln.Addr().String(), fake, stop
}

// client is a connection to the gate that numbers its requests.
type client struct {
	conn net.Conn
	in   *bufio.Reader
	next int32
}

func connect(t *testing.T, addr string) *client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{conn: conn, in: bufio.NewReader(conn)}
}

// send writes an OP_MSG of the command with the given flags and returns its request id.
func (c *client) send(name string, flags uint32) (int32, error) {
	c.next++
	_, err := c.conn.Write(opMsgOf(c.next, 0, flags, command(name)))
	return c.next, err
}

// call sends the command and returns the reply, which must answer it.
func (c *client) call(name string) (message, error) {
	id, err := c.send(name, 0)
	if err != nil {
		return nil, err
	}
	reply, err := readMessage(c.in)
	if err == nil && reply.header().responseTo != id {
		err = fmt.Errorf("reply to %d, sent %d", reply.header().responseTo, id)
	}
	return reply, err
}

// barrier returns a function that blocks until n callers are inside it at once and reports whether they were.
func barrier(n int) func() bool {
	var arrived atomic.Int32
	all := make(chan struct{})
	return func() bool {
		if arrived.Add(1) == int32(n) {
			close(all)
		}
		select {
		case <-all:
			return true
		case <-time.After(2 * time.Second):
			return false
		}
	}
}

// inParallel runs f(i) for i < n at once and returns the first error.
func inParallel(n int, f func(i int) error) error {
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- f(i) }()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
