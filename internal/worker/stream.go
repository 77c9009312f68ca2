package worker

import (
	"errors"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/wire"
)

// streamer sends a task's output to the front end as chunks, in order, with
// flow control: after FlowWindow bytes it sends the next chunk as a request
// and waits for the front end's answer, so a slow reader slows the command
// (through its pipe) instead of overflowing the bus. If the front end is
// gone or stays silent for FlowTimeout, streaming stops; the task runs on and
// its result keeps the captured output.
type streamer struct {
	w     *Worker
	id    string
	reply string

	mu       sync.Mutex
	enc      *wire.Encoder
	seq      uint64
	inFlight int
	off      bool
}

func newStreamer(w *Worker, id, reply string) *streamer {
	return &streamer{w: w, id: id, reply: reply, enc: wire.NewEncoder()}
}

// write is a runner.OutputFunc.
func (s *streamer) write(stream wire.Stream, p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.off {
		return
	}
	s.seq++
	msg, err := s.enc.Msg(s.reply, &wire.Chunk{ID: s.id, Stream: stream, Seq: s.seq, Data: p})
	if err != nil {
		s.stop(err)
		return
	}
	s.inFlight += len(p)
	if s.inFlight < s.w.cfg.FlowWindow {
		if err := s.w.nc.PublishMsg(msg); err != nil {
			s.stop(err)
		}
		return
	}
	s.inFlight = 0
	if _, err := s.w.nc.RequestMsg(msg, s.w.cfg.FlowTimeout); err != nil {
		s.stop(err)
	}
}

func (s *streamer) stop(err error) {
	s.off = true
	if errors.Is(err, nats.ErrNoResponders) {
		err = errors.New("front end no longer listening")
	}
	s.w.log.Info("output streaming stopped; the task runs on", "id", s.id, "reason", err)
}
