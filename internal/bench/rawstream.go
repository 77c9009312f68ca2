package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
)

// rawStreamSubject is where the raw publisher probe publishes.
const rawStreamSubject = "bench.raw.stream"

// Raw stream flow control, as a node streams output: a credit request
// every quarter window, at most a window unconfirmed.
const (
	rawChunk  = 256 << 10
	rawWindow = 1 << 20
)

// ProbePublish is the raw publisher of the big-output scenario (`fabric
// bench probe publish`): it publishes cfg.Bytes zero bytes on
// bench.raw.stream in 256 KiB messages with the node's flow control, the
// way a node streams output but with no fabric message, no runner and no
// command, so that the scenario can show what NATS alone achieves.
func ProbePublish(ctx context.Context, cfg ProbeConfig, out io.Writer) error {
	nc, err := nats.Connect(cfg.Server, nats.Name("fabric bench raw publisher"))
	if err != nil {
		return fmt.Errorf("probe: connect: %w", err)
	}
	defer nc.Close()
	credit := make(chan *nats.Msg, 64)
	inbox := nc.NewInbox()
	sub, err := nc.ChanSubscribe(inbox, credit)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	defer sub.Unsubscribe()
	data := make([]byte, rawChunk)
	var sent, acked, lastMark int64
	var marks []int64
	for sent < cfg.Bytes {
		for sent-acked >= rawWindow {
			select {
			case <-credit:
				acked, marks = marks[0], marks[1:]
			case <-time.After(30 * time.Second):
				return errors.New("probe: no credit for 30s")
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		p := data[:min(int64(len(data)), cfg.Bytes-sent)]
		m := &nats.Msg{Subject: rawStreamSubject, Data: p}
		sent += int64(len(p))
		if sent-lastMark >= rawWindow/4 || sent == cfg.Bytes {
			m.Reply, lastMark = inbox, sent
			marks = append(marks, sent)
		}
		if err := nc.PublishMsg(m); err != nil {
			return fmt.Errorf("probe: publish: %w", err)
		}
	}
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	fmt.Fprintln(out, "done")
	return nil
}

// rawStream receives what a ProbePublish process sends and returns how long
// it took from the first byte asked to the last received.
func (c *cluster) rawStream(ctx context.Context, size int64) (time.Duration, error) {
	nc, err := c.connect("raw stream reader")
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	done := make(chan struct{})
	var got int64
	sub, err := nc.Subscribe(rawStreamSubject, func(m *nats.Msg) {
		got += int64(len(m.Data))
		if m.Reply != "" {
			_ = m.Respond(nil)
		}
		if got == size {
			close(done)
		}
	})
	if err != nil {
		return 0, fmt.Errorf("raw stream: %w", err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		return 0, fmt.Errorf("raw stream: %w", err)
	}
	start := time.Now()
	p, err := c.e.start(ctx, "bench", "probe", "publish", "--server", c.hub.ClientURL(), "--bytes", fmt.Sprint(size))
	if err != nil {
		return 0, err
	}
	defer p.stop()
	select {
	case <-done:
		return time.Since(start), nil
	case <-p.done:
		select {
		case <-done:
			return time.Since(start), nil
		case <-time.After(10 * time.Second):
		}
		return 0, fmt.Errorf("raw publisher exited having delivered %d of %d bytes: %v (%s)", got, size, p.err, p.stderr.String())
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}
