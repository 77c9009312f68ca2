package worker

import (
	"errors"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/wire"
)

// streamer sends a task's output to a subject as chunks, in order. With flow
// control (the submitting front end's inbox): after FlowWindow bytes or
// FlowChunks chunks it sends the next chunk as a request and waits for the
// front end's answer, so a slow reader slows the command (through its pipe)
// instead of overflowing the bus. If the front end is gone or stays silent
// for FlowTimeout, streaming stops; the task runs on and its result keeps the
// captured output. Without flow control (a task's OutputTo, for followers)
// chunks are published and forgotten.
type streamer struct {
	w     *Worker
	id    string
	reply string
	flow  bool

	mu       sync.Mutex
	enc      *wire.Encoder
	seq      uint64
	inFlight int // bytes since the last credit
	chunks   int // chunks since the last credit
	off      bool
}

// flowChunks bounds the chunks sent between credits, whatever their size.
const flowChunks = 64

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
	s.seq++
	msg, err := s.enc.Msg(s.reply, &wire.Chunk{ID: s.id, Stream: stream, Seq: s.seq, Data: p})
	if err != nil {
		s.stop(err)
		return
	}
	s.inFlight += len(p)
	s.chunks++
	if !s.flow || (s.inFlight < s.w.cfg.FlowWindow && s.chunks < flowChunks) {
		if err := s.w.nc.PublishMsg(msg); err != nil {
			s.stop(err)
		}
		return
	}
	s.inFlight, s.chunks = 0, 0
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
