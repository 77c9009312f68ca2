// Package feed sends a task's standard input to the node that runs it, as
// the node asks for it and no faster.
//
// The node asks with wire.InputWant messages on the task's reply subject:
// each carries a credit, the offset up to which the submitter may send,
// and a reply subject to send the input to. A Sender reads its source only
// as far as the credit allows and sends what it read as wire.Input pieces,
// in order, then one with EOF set. Memory stays bounded on both sides: a
// piece here, a window on the node, and a source read no faster than the
// command reads its input.
package feed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/wire"
)

// DefaultPiece is the largest piece of input sent in one message, well
// under NATS's default max payload.
const DefaultPiece = 256 << 10

// Sender feeds one task's standard input to its node. Want is safe for
// concurrent use with Run.
type Sender struct {
	nc    *nats.Conn
	id    string
	src   io.Reader
	sign  func(*wire.Input) error
	piece int

	mu     sync.Mutex
	to     string // where the node takes its input
	credit int64
	wake   chan struct{}

	sent int64 // bytes sent
}

// Config configures a Sender beyond its task and source.
type Config struct {
	// Sign, if set, signs each piece (a signed task's input must be).
	Sign func(*wire.Input) error
	// Piece is the largest piece sent at once; default DefaultPiece.
	Piece int
}

// New returns a Sender of task id's input, read from src.
func New(nc *nats.Conn, id string, src io.Reader, cfg Config) *Sender {
	if cfg.Piece <= 0 {
		cfg.Piece = DefaultPiece
	}
	return &Sender{nc: nc, id: id, src: src, sign: cfg.Sign, piece: cfg.Piece, wake: make(chan struct{}, 1)}
}

// Want takes a node's request for input, from the task's reply subject. It
// never blocks.
func (s *Sender) Want(msg *nats.Msg) error {
	var w wire.InputWant
	if err := wire.Decode(msg, &w); err != nil {
		return fmt.Errorf("input request: %w", err)
	}
	if w.ID != s.id || msg.Reply == "" {
		return fmt.Errorf("input request for task %q with reply %q: not this task's", w.ID, msg.Reply)
	}
	s.mu.Lock()
	s.to = msg.Reply
	s.credit = max(s.credit, w.Credit)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// Sent returns how many bytes of input have been sent.
func (s *Sender) Sent() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

// Run sends the input as the node allows, until it has sent its end (nil),
// the source fails (the node gets the end of the input, and Run the
// error), or ctx ends. A read of the source in progress is not
// interrupted by ctx: close the source to end it.
func (s *Sender) Run(ctx context.Context) error {
	buf := make([]byte, s.piece)
	for {
		to, room, err := s.room(ctx)
		if err != nil {
			return err
		}
		n, rerr := s.src.Read(buf[:min(room, int64(len(buf)))])
		eof := rerr != nil
		if n > 0 || eof {
			if err := s.send(to, buf[:n], eof); err != nil {
				return err
			}
		}
		switch {
		case errors.Is(rerr, io.EOF):
			return nil
		case rerr != nil:
			return fmt.Errorf("read standard input: %w", rerr)
		}
	}
}

// room waits until the node allows more input, and says where to and how
// much.
func (s *Sender) room(ctx context.Context) (string, int64, error) {
	for {
		s.mu.Lock()
		to, room := s.to, s.credit-s.sent
		s.mu.Unlock()
		if to != "" && room > 0 {
			return to, room, nil
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return "", 0, ctx.Err()
		}
	}
}

func (s *Sender) send(to string, data []byte, eof bool) error {
	s.mu.Lock()
	in := &wire.Input{ID: s.id, Offset: s.sent, Data: data, EOF: eof}
	s.mu.Unlock()
	if s.sign != nil {
		if err := s.sign(in); err != nil {
			return err
		}
	}
	msg, err := wire.NewMsg(to, in)
	if err != nil {
		return err
	}
	if err := s.nc.PublishMsg(msg); err != nil {
		return fmt.Errorf("send standard input: %w", err)
	}
	s.mu.Lock()
	s.sent += int64(len(data))
	s.mu.Unlock()
	return nil
}
