package frontend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/fabric-run/fabric/internal/locks"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
)

// What a request may ask beyond a command, on the front end's side: locks
// (their progress and, for tasks others follow, their place in line),
// retries, idempotency keys and standard input.

// MaxInlineStdin bounds the standard input a task carries in itself
// (fabric submit -i, MCP stdin); fabric run -i streams any amount.
const MaxInlineStdin = 256 << 10

// attachGrace is how long a request that lost the claim of its idempotency
// key waits for the winner's record: the winner writes it just after.
const attachGrace = 5 * time.Second

// validate checks what a request asks beyond a command.
func (r *Request) validate() error {
	for _, l := range r.Locks {
		if _, err := locks.ParseSpec(l); err != nil {
			return err
		}
	}
	if len(r.Locks) == 0 && r.LockTimeout > 0 {
		return errors.New("a lock timeout without a lock: name the lock to wait for")
	}
	if r.GPUs < 0 || r.LockTimeout < 0 || r.IdleTimeout < 0 {
		return errors.New("gpus, lock timeout and idle timeout must not be negative")
	}
	if err := r.Retry.Validate(); err != nil {
		return err
	}
	if r.Key != "" && len(r.Key) > tasks.MaxKeyLen {
		return fmt.Errorf("idempotency key of %d bytes: at most %d", len(r.Key), tasks.MaxKeyLen)
	}
	switch {
	case len(r.Stdin) > MaxInlineStdin:
		return fmt.Errorf("standard input of %d bytes sent with the task: at most %d (stream it instead: fabric run -i)", len(r.Stdin), MaxInlineStdin)
	case r.StdinStream && r.Input == nil:
		return errors.New("streamed standard input with nothing to stream")
	}
	return nil
}

// attachedError says a request's idempotency key already names a task.
type attachedError struct{ id string }

func (e *attachedError) Error() string { return "idempotency key already names task " + e.id }

func attachedTo(err error) (string, bool) {
	var a *attachedError
	if errors.As(err, &a) {
		return a.id, true
	}
	return "", false
}

// attach answers a request whose idempotency key names task id: with that
// task's status, at its end when wait is set (or when ctx ends: the task is
// another submission's, and is never cancelled for this one).
func (s *Service) attach(ctx context.Context, id, key string, wait bool) (*Status, error) {
	deadline := time.Now().Add(attachGrace)
	var st *Status
	for {
		var err error
		st, err = s.Status(ctx, id)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrUnknownTask) || time.Now().After(deadline) {
			return nil, fmt.Errorf("idempotency key %q names task %s: %w", key, id, err)
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	for wait && st.Running() && ctx.Err() == nil {
		next, err := s.Wait(ctx, id, nil, time.Hour)
		if err != nil {
			return nil, err
		}
		st = next
	}
	st.Attached = true
	return st, nil
}

// progressed records how far an accepted task got before it started.
func (s *Service) progressed(l *live, p *wire.Progress) {
	rec := l.update(func(r *tasks.Record) {
		switch p.State {
		case wire.ProgressWaiting:
			r.State, r.Waiting, r.Started = tasks.StateQueued, p.Reason, time.Time{}
		case wire.ProgressStarted:
			r.State, r.Waiting, r.Started = tasks.StateRunning, "", time.Now()
		}
	})
	s.save(&rec)
}

// retried records an attempt that ended in a way the task is retried on.
func (s *Service) retried(l *live, a tasks.Attempt) {
	rec := l.update(func(r *tasks.Record) {
		r.Attempts = append(r.Attempts, a)
		r.Node, r.Instance, r.State, r.Started, r.Waiting = "", "", tasks.StateQueued, time.Time{}, ""
	})
	s.save(&rec)
}

// counted wraps a streamed input so the retry rules can tell whether any
// of it was read.
func counted(r io.Reader) (io.Reader, func() bool) {
	if r == nil {
		return nil, nil
	}
	c := &countingReader{r: r}
	return c, func() bool { return c.n.Load() > 0 }
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// lockStore returns the hub's lock bucket, opened on first use.
func (s *Service) lockStore(ctx context.Context) (*locks.Store, error) {
	s.mu.Lock()
	st := s.locks
	s.mu.Unlock()
	if st != nil {
		return st, nil
	}
	st, err := locks.Open(ctx, s.nc, locks.Config{Logger: s.log})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locks == nil {
		s.locks = st
	}
	return s.locks, nil
}

// lockState brings the status of a task waiting for its locks, which
// another front end submitted, up to date from the locks themselves: its
// place in line, or (holding them all) running.
func (s *Service) lockState(ctx context.Context, st *Status) {
	ls, err := s.lockStore(ctx)
	if err != nil {
		return
	}
	held := 0
	for _, l := range st.Record.Locks {
		spec, err := locks.ParseSpec(l)
		if err != nil {
			return
		}
		q, err := ls.Get(ctx, spec.Name)
		if err != nil {
			return
		}
		e, ok := q.Find(st.Record.ID)
		switch {
		case !ok:
			// Not (or no longer) in line: it ended, or its node is gone.
		case !e.Holding:
			st.Record.Waiting = fmt.Sprintf("waiting for lock %s (%d ahead)", spec.Name, e.Ahead)
			return
		default:
			held++
		}
	}
	if held == len(st.Record.Locks) {
		st.State, st.Record.Waiting = tasks.StateRunning, ""
		st.Note = "it holds its locks and runs"
	}
}
