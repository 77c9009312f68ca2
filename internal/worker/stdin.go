package worker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/wire"
)

// A task's streamed standard input flows with credit, the other way round
// from its output: the node asks for it (wire.InputWant, on the task's
// reply subject, with a reply subject of its own for the input) allowing
// the submitter to send up to an offset; it asks for more, a window ahead,
// as the command reads. At most inputWindow bytes are ever unread on the
// node, and the submitter reads its input no faster than the command.
const (
	// inputWindow is how far ahead of the command the submitter may send.
	inputWindow = 1 << 20
	// inputAskEvery is how often a node that waits for input asks again:
	// a submitter that is gone is noticed (no responders) rather than
	// waited for until the task's timeout.
	inputAskEvery = 5 * time.Second
	// inputQueue bounds the pieces queued on the node: a submitter that
	// sends pieces so small that they overflow it breaks its own input.
	inputQueue = 1024
)

// errSubmitterGone: the submitter of a task's streamed input went away.
var errSubmitterGone = errors.New("its submitter is gone")

// inputError stops a task whose streamed standard input broke off.
type inputError struct {
	at  int64
	err error
}

func (e *inputError) Error() string {
	return fmt.Sprintf("killed: its standard input broke off at byte %d: %v", e.at, e.err)
}

// stdinFor returns j's standard input: none, the bytes the task carries,
// or a stream from its submitter.
func (w *Worker) stdinFor(j *job, format wire.Format, reply string) (io.Reader, error) {
	switch {
	case len(j.task.Stdin) > 0:
		return bytes.NewReader(j.task.Stdin), nil
	case j.task.StdinStream:
		return w.newInputStream(j, reply)
	}
	return nil, nil
}

// inputStream is a task's streamed standard input on its node, read by the
// runner's copy to the command. Read is called from one goroutine; Close
// from any.
type inputStream struct {
	w     *Worker
	j     *job
	reply string
	inbox string
	sub   *nats.Subscription
	ch    chan *nats.Msg

	recv   int64  // input received
	read   int64  // input handed to the command
	credit int64  // the offset the submitter may send up to
	cur    []byte // received, not yet read
	eof    bool
	err    error

	closeOnce sync.Once
	closed    chan struct{}
}

func (w *Worker) newInputStream(j *job, reply string) (*inputStream, error) {
	s := &inputStream{w: w, j: j, reply: reply, inbox: w.nc.NewInbox(), ch: make(chan *nats.Msg, inputQueue),
		credit: inputWindow, closed: make(chan struct{})}
	sub, err := w.nc.ChanSubscribe(s.inbox, s.ch)
	if err != nil {
		return nil, fmt.Errorf("standard input: subscribe: %w", err)
	}
	s.sub = sub
	s.want()
	return s, nil
}

// want asks the submitter for input up to the credit.
func (s *inputStream) want() {
	msg, err := wire.NewMsg(s.reply, &wire.InputWant{ID: s.j.task.ID, Credit: s.credit})
	if err == nil {
		msg.Reply = s.inbox
		err = s.w.nc.PublishMsg(msg)
	}
	if err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		s.w.log.Warn("ask for input", "id", s.j.task.ID, "err", err)
	}
}

// Read implements io.Reader.
func (s *inputStream) Read(p []byte) (int, error) {
	var ask *time.Ticker
	for len(s.cur) == 0 {
		switch {
		case s.err != nil:
			return 0, s.err
		case s.eof:
			return 0, io.EOF
		}
		if ask == nil {
			ask = time.NewTicker(inputAskEvery)
			defer ask.Stop()
		}
		select {
		case m := <-s.ch:
			s.take(m)
		case <-ask.C:
			s.want()
		case <-s.closed:
			return 0, io.ErrClosedPipe
		}
	}
	n := copy(p, s.cur)
	s.cur = s.cur[n:]
	s.read += int64(n)
	if s.credit-s.read <= inputWindow*3/4 && !s.eof {
		s.credit = s.read + inputWindow
		s.want()
	}
	return n, nil
}

// take checks one message of the stream and keeps its data; a message that
// breaks the stream stops it and kills the task.
func (s *inputStream) take(m *nats.Msg) {
	if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
		s.fail(errSubmitterGone)
		return
	}
	var in wire.Input
	if err := wire.Decode(m, &in); err != nil {
		s.fail(err)
		return
	}
	switch {
	case in.ID != s.j.task.ID:
		s.fail(fmt.Errorf("a piece of task %s's input came for it", in.ID))
	case in.Offset != s.recv:
		s.fail(fmt.Errorf("the next piece starts at byte %d: pieces were lost", in.Offset))
	case in.Offset+int64(len(in.Data)) > s.credit:
		s.fail(fmt.Errorf("the submitter sent up to byte %d, past the %d it was allowed", in.Offset+int64(len(in.Data)), s.credit))
	default:
		if v := s.w.cfg.Verifier; v != nil {
			if err := v.VerifyInput(s.j.task, &in); err != nil {
				s.fail(err)
				return
			}
		}
		s.cur = in.Data
		s.recv += int64(len(in.Data))
		s.eof = in.EOF
	}
}

func (s *inputStream) fail(err error) {
	s.err = &inputError{at: s.recv, err: err}
	s.w.log.Warn("standard input broke off: killing the task", "id", s.j.task.ID, "err", s.err)
	s.j.cancel(s.err)
}

// Close stops the stream: a Read waiting for input returns.
func (s *inputStream) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		_ = s.sub.Unsubscribe()
	})
	return nil
}
