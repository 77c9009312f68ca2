package worker

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/wire"
)

// maxChunksInFlight bounds the chunks sent and not yet confirmed, whatever
// their size: the front end's per-task inbox holds 256 (dispatch), and a
// command writing a few bytes at a time must not overflow it.
const maxChunksInFlight = 128

// markEvery is how many chunks at most go between two credit requests.
const markEvery = maxChunksInFlight / 4

// streamer sends a task's output to the front end as chunks, in order, with
// flow control by a sliding window: every quarter of FlowWindow bytes (or
// markEvery chunks) a chunk carries a reply subject, asking the front end
// to answer once it has consumed everything up to it; the node keeps
// sending while less than FlowWindow bytes (and maxChunksInFlight chunks)
// are unconfirmed, and waits when the window is full. A slow reader so
// slows the command (through its pipe) instead of overflowing the bus,
// while a fast one never leaves the node idle waiting for a round trip.
// If the front end is gone or stays silent for FlowTimeout, streaming
// stops; the task runs on and its result keeps the captured output.
//
// Without flow control (a task's OutputTo, for followers), chunks are
// published and forgotten.
type streamer struct {
	w     *Worker
	id    string
	reply string
	flow  bool

	mu    sync.Mutex
	enc   *wire.Encoder
	seq   uint64
	sent  int64  // bytes published
	nsent uint64 // chunks published
	// marks are the chunks that asked for credit and have no answer yet,
	// oldest first; answers come in their order.
	marks []mark
	// acked is what the front end has confirmed consumed.
	acked  mark
	last   mark // the last chunk that asked
	inbox  string
	credit chan *nats.Msg
	sub    *nats.Subscription
	off    bool
}

// mark is a position in the stream: bytes and chunks sent up to it.
type mark struct {
	bytes  int64
	chunks uint64
}

func newStreamer(w *Worker, id, reply string, flow bool) *streamer {
	return &streamer{w: w, id: id, reply: reply, flow: flow, enc: wire.NewEncoder()}
}

// write is a runner.OutputFunc.
func (s *streamer) write(stream wire.Stream, p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.off {
		return
	}
	if s.flow {
		if err := s.room(); err != nil {
			s.stop(err)
			return
		}
	}
	s.seq++
	msg, err := s.enc.Msg(s.reply, &wire.Chunk{ID: s.id, Stream: stream, Seq: s.seq, Data: p})
	if err != nil {
		s.stop(err)
		return
	}
	s.sent += int64(len(p))
	s.nsent++
	window := int64(s.w.cfg.FlowWindow)
	if s.flow && (s.sent-s.last.bytes >= window/4 || s.nsent-s.last.chunks >= markEvery) {
		if err := s.subscribe(); err != nil {
			s.stop(err)
			return
		}
		msg.Reply = s.inbox
		s.last = mark{s.sent, s.nsent}
		s.marks = append(s.marks, s.last)
	}
	if err := s.w.nc.PublishMsg(msg); err != nil {
		s.stop(err)
	}
}

// room takes in the answers that came and, while the window is full, waits
// for more. s.mu is held.
func (s *streamer) room() error {
	window := int64(s.w.cfg.FlowWindow)
	full := func() bool {
		return s.sent-s.acked.bytes >= window || s.nsent-s.acked.chunks >= maxChunksInFlight
	}
	var timer *time.Timer
	for {
		var m *nats.Msg
		select {
		case m = <-s.credit:
		default:
			if !full() {
				return nil
			}
			if timer == nil {
				timer = time.NewTimer(s.w.cfg.FlowTimeout)
				defer timer.Stop()
			}
			select {
			case m = <-s.credit:
			case <-timer.C:
				return fmt.Errorf("front end did not take output for %s", s.w.cfg.FlowTimeout)
			}
		}
		if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
			return errors.New("front end no longer listening")
		}
		if len(s.marks) > 0 {
			s.acked, s.marks = s.marks[0], s.marks[1:]
		}
	}
}

// subscribe opens the inbox credit answers come to, once. s.mu is held.
func (s *streamer) subscribe() error {
	if s.sub != nil {
		return nil
	}
	s.inbox = s.w.nc.NewInbox()
	// Room for every answer that can be outstanding, and a no-responders.
	s.credit = make(chan *nats.Msg, maxChunksInFlight/markEvery+8)
	sub, err := s.w.nc.ChanSubscribe(s.inbox, s.credit)
	if err != nil {
		return fmt.Errorf("credit inbox: %w", err)
	}
	s.sub = sub
	return nil
}

// close releases the credit inbox; the streamer sends nothing more.
func (s *streamer) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.off = true
	if s.sub != nil {
		_ = s.sub.Unsubscribe()
		s.sub = nil
	}
}

func (s *streamer) stop(err error) {
	s.off = true
	if errors.Is(err, nats.ErrNoResponders) {
		err = errors.New("front end no longer listening")
	}
	s.w.log.Info("output streaming stopped; the task runs on", "id", s.id, "reason", err)
}
