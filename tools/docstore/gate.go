package main

// The write gate: the docstore's public listener. FerretDB v1 applies an update as a read in Go
// followed by a write, so two concurrent writes to one document can lose one of them. SQLite
// admits one writer at a time anyway, so the gate lets one write command at a time through to
// FerretDB and every single-document write becomes atomic, as on MongoDB. Reads pass concurrently.
//
// Each client connection gets its own connection to FerretDB (on a Unix socket only this process
// can reach), and messages are forwarded whole and unchanged, except that a fire-and-forget
// request (moreToCome) goes through as an ordinary one so the gate sees when the write ends, and
// that a conditional write of one document by `_id` is checked and cut down to an `_id` filter
// here (guarded.go), which FerretDB finds through SQL rather than by scanning the collection.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// drainTimeout bounds how long a stopping gate waits for requests in flight (scripts/stack.sh kills after 10 s).
const drainTimeout = 5 * time.Second

var (
	errBackend = errors.New("FerretDB")
	errRefused = errors.New("refused")
)

// gate forwards client connections to FerretDB, holding writes to one at a time when serialize is
// set and checking conditional writes by `_id` itself when pushdown is set too.
type gate struct {
	dial      func() (net.Conn, error)
	serialize bool
	pushdown  bool
	logger    *slog.Logger
	cache     *docCache     // documents as the last write left them (doccache.go); nil: none
	drainFor  time.Duration // how long serve waits for requests in flight once ctx ends

	writes sync.Mutex   // held by one write from forwarding its request until its reply is read
	ids    atomic.Int32 // request ids of the messages the gate makes itself

	mu       sync.Mutex
	closing  bool
	sessions map[*session]struct{}
	warned   map[string]bool // unsupported conditions already logged
	wg       sync.WaitGroup
}

// session is one client connection and its connection to FerretDB.
type session struct {
	client  net.Conn
	backend net.Conn // set once dialled; guarded by gate.mu
}

// newGate returns a gate that reaches FerretDB through dial.
func newGate(dial func() (net.Conn, error), serialize, pushdown bool, logger *slog.Logger) *gate {
	return &gate{dial: dial, serialize: serialize, pushdown: pushdown, logger: logger, drainFor: drainTimeout,
		sessions: map[*session]struct{}{}, warned: map[string]bool{}}
}

// serve accepts connections on ln until ctx ends, then lets requests in flight finish and returns.
func (g *gate) serve(ctx context.Context, ln net.Listener) {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		conn, acceptErr := ln.Accept()
		if acceptErr == nil {
			g.start(conn)
			continue
		}
		if ctx.Err() != nil || errors.Is(acceptErr, net.ErrClosed) {
			break
		}
		g.logger.Warn("accepting a connection failed; retrying", slog.String("error", acceptErr.Error()))
		select { // out of file descriptors, typically: give connections time to end
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	g.drain(g.drainFor)
}

// start runs a session for conn unless the gate is closing.
func (g *gate) start(conn net.Conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		conn.Close()
		return
	}
	s := &session{client: conn}
	g.sessions[s] = struct{}{}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.run(s)
		g.mu.Lock()
		delete(g.sessions, s)
		g.mu.Unlock()
	}()
}

// drain stops every session at its next read from the client; after timeout it closes what is left.
func (g *gate) drain(timeout time.Duration) {
	g.mu.Lock()
	g.closing = true
	for s := range g.sessions {
		_ = s.client.SetReadDeadline(time.Now()) // a reply being forwarded still reaches its client
	}
	g.mu.Unlock()
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(timeout):
	}
	g.mu.Lock()
	g.logger.Warn("closing connections with requests still in flight", slog.Int("connections", len(g.sessions)))
	for s := range g.sessions {
		s.client.Close()
		if s.backend != nil {
			s.backend.Close()
		}
	}
	g.mu.Unlock()
	<-done
}

// run forwards the session's requests one after another until either side ends it.
func (g *gate) run(s *session) {
	defer s.client.Close()
	backend, err := g.dial()
	if err != nil {
		g.logger.Warn("cannot reach FerretDB", slog.String("error", err.Error()))
		return
	}
	defer backend.Close()
	g.mu.Lock()
	s.backend = backend
	g.mu.Unlock()

	clientIn := bufio.NewReaderSize(s.client, 64<<10)
	backendIn := bufio.NewReaderSize(backend, 64<<10)
	for {
		request, err := readMessage(clientIn)
		if err == nil {
			err = g.exchange(request, s.client, backend, backendIn)
		}
		if err != nil {
			g.logEnd(s, err)
			return
		}
	}
}

// exchange forwards one request and delivers its replies; any error ends the session.
func (g *gate) exchange(request message, client, backend io.Writer, backendIn io.Reader) error {
	if op := request.header().opCode; op != opMsg && op != opQuery {
		// OP_COMPRESSED included: FerretDB's hello offers no compressors, so drivers never compress
		return fmt.Errorf("%w: opcode %d (FerretDB v1 takes only OP_MSG and OP_QUERY)", errRefused, op)
	}
	oneWay := request.msgFlags()&flagMoreToCome != 0
	command, err := request.commandName()
	alone := g.serialize && (err != nil || isWrite(command))
	request = request.withoutMoreToCome()
	var reply message
	if refusal := g.tooManyStatements(command, request); refusal != nil {
		reply, err = refusal, nil // batches.go: FerretDB would hang on it
	} else if ended := g.endSessionsReply(command, request); ended != nil {
		reply, err = ended, nil // sessions.go: FerretDB v1 has none to end
	} else if guarded := g.planWrite(command, request); guarded != nil {
		reply, err = g.runGuarded(guarded, request, backend, backendIn)
	} else if !alone && command == "find" {
		reply, err = g.find(request, backend, backendIn) // cached_reads.go
	} else {
		reply, err = g.forward(command, request, backend, backendIn, alone)
	}
	if err == nil {
		reply = withSmallerWriteBatch(command, reply)
	}
	for {
		if err != nil {
			return err
		}
		if !oneWay {
			if _, err := client.Write(reply); err != nil {
				return err
			}
		}
		if reply.msgFlags()&flagMoreToCome == 0 {
			return nil
		}
		// an exhaust stream: more replies follow, each answering the one before (FerretDB v1 sends none)
		reply, err = readReply(backendIn, reply.header().requestID)
	}
}

// forward sends request to FerretDB and returns its reply, alone among writes when alone is set.
func (g *gate) forward(command string, request message, backend io.Writer, backendIn io.Reader, alone bool) (message, error) {
	if !alone {
		return roundTrip(request, backend, backendIn)
	}
	g.writes.Lock()
	defer g.writes.Unlock()
	return g.write(command, request, backend, backendIn)
}

// write sends a write to FerretDB, with the write mutex held, keeping the document cache true to it.
func (g *gate) write(command string, request message, backend io.Writer, backendIn io.Reader) (message, error) {
	learning := g.cache.beforeWrite(command, request)
	defer g.cache.writeEnds()
	reply, err := roundTrip(request, backend, backendIn)
	if err == nil {
		g.cache.learn(learning, reply)
	}
	return reply, err
}

// readReply returns FerretDB's next message, which must answer requestID.
func readReply(backendIn io.Reader, requestID int32) (message, error) {
	reply, err := readMessage(backendIn)
	if err != nil {
		return nil, fmt.Errorf("%w: reading reply: %w", errBackend, err)
	}
	if to := reply.header().responseTo; to != requestID {
		return nil, fmt.Errorf("%w: reply to request %d while %d was expected", errBackend, to, requestID)
	}
	return reply, nil
}

// logEnd logs why a session ended: quietly for clients leaving, as a warning for faults.
func (g *gate) logEnd(s *session, err error) {
	attrs := []any{slog.String("client", s.client.RemoteAddr().String()), slog.String("error", err.Error())}
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrDeadlineExceeded):
		g.logger.Debug("connection ended", attrs...)
	case errors.Is(err, errBackend), errors.Is(err, errRefused), errors.Is(err, errBadLength):
		g.logger.Warn("connection closed", attrs...)
	default:
		g.logger.Info("connection ended", attrs...)
	}
}
