package dispatch

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/feed"
	"github.com/fabric-run/fabric/internal/wire"
)

// What a follower does for a task that asked for more than a command:
// progress before it starts (locks), and its streamed standard input.

// inputGrace is how long the end of a following waits for its input feed
// to stop: a feed blocked reading a source that has nothing (a terminal)
// is left to end with its next read.
const inputGrace = 200 * time.Millisecond

// input feeds a task's standard input to its node, from the first request.
type input struct {
	sender *feed.Sender
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
	done   chan struct{}
	log    func(msg string, args ...any)
}

// newInput returns the feed of task's input, or nil when it has none to
// stream.
func (d *Dispatcher) newInput(task *wire.Task, h wire.Hooks) *input {
	if !task.StdinStream || h.Stdin == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &input{
		sender: feed.New(d.nc, task.ID, h.Stdin, feed.Config{Sign: h.SignInput}),
		ctx:    ctx, cancel: cancel, done: make(chan struct{}), log: d.log.Warn,
	}
}

// want takes a node's request for input, starting the feed at the first.
func (in *input) want(m *nats.Msg) {
	if in == nil {
		return
	}
	if err := in.sender.Want(m); err != nil {
		in.log("bad input request", "err", err)
		return
	}
	in.once.Do(func() {
		go func() {
			defer close(in.done)
			if err := in.sender.Run(in.ctx); err != nil && in.ctx.Err() == nil {
				in.log("standard input", "err", err)
			}
		}()
	})
}

// stop ends the feed, waiting for it up to inputGrace.
func (in *input) stop() {
	if in == nil {
		return
	}
	in.cancel()
	in.once.Do(func() { close(in.done) }) // never started: nothing to wait for
	t := time.NewTimer(inputGrace)
	defer t.Stop()
	select {
	case <-in.done:
	case <-t.C:
	}
}

// progress passes a node's progress message on, and reports whether the
// task started with it.
func progress(m *nats.Msg, h wire.Hooks) (started bool) {
	var p wire.Progress
	if err := wire.Decode(m, &p); err != nil {
		return false
	}
	if h.OnProgress != nil {
		h.OnProgress(&p)
	}
	return p.State == wire.ProgressStarted
}
