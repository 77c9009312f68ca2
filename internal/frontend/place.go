package frontend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/router"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
)

// While every matching node is busy, a placement waits in line (waiters):
// a slot this front end frees wakes the first in line; the first also
// looks again every headRetry (for slots freed elsewhere: other front
// ends' tasks, new nodes), the others every retryBackoff.
const (
	retryBackoff = time.Second
	headRetry    = 100 * time.Millisecond
)

// hooks observe one task's run: the placement decision, the node that took
// it, its output and the nodes that did not take it. Each may be nil.
type hooks struct {
	decided  func(*router.Decision)
	accepted func(n *registry.Node, instance string)
	output   wire.OutputFunc
	declined func(node, why string)
	// progress is told how far an accepted task got before it started.
	progress func(*wire.Progress)
	// retried is told of an attempt that ended in a way the task is
	// retried on, before the next.
	retried func(tasks.Attempt)
	// stdin is the task's streamed standard input; fed says whether any
	// of it was read.
	stdin io.Reader
	fed   func() bool
}

// Plan decides where req would run, without running it.
func (s *Service) Plan(ctx context.Context, req Request) (*router.Decision, error) {
	return s.route(ctx, &req, false)
}

// route decides where req runs, placing it (counting it against the chosen
// node) if place: one scan of the registry's node table, workers and SSH
// machines alike (those due a probe are probed first).
func (s *Service) route(ctx context.Context, req *Request, place bool) (d *router.Decision, err error) {
	s.refreshSSH(ctx)
	// Locks, GPUs, idle timeouts and input are what workers do: a task
	// asking for them goes to one.
	rreq := router.Request{Task: &req.Task, Batch: req.Batch, Local: s.Local(), WorkersOnly: req.Unattended || !req.TaskV2.IsZero()}
	s.reg.View(func(t *registry.Table, now time.Time) {
		if place {
			d, err = s.rt.Place(rreq, t, now)
		} else {
			d, err = s.rt.Route(rreq, t, now)
		}
	})
	return d, err
}

// run checks req's task, places it and offers it to the decision's nodes
// (offer), streaming output to h. It waits for a free slot while every
// matching node is busy, or every node offered declined (unless NoWait).
// The error says why the command did not run (no matching node, unknown
// node, refused, nobody accepted, ctx ended); once it runs, the Outcome's
// Result says how it ended. The Outcome is never nil.
func (s *Service) run(ctx context.Context, req *Request, h *hooks) (*Outcome, error) {
	task := &req.Task
	out := &Outcome{}
	if s.cfg.Check != nil {
		if err := s.cfg.Check(task); err != nil {
			return out, fmt.Errorf("%w: %w", ErrRefused, err)
		}
	}
	var w *waiter      // our place in line, once we wait
	freed := false     // what woke us was a slot freed (not a guess or a timer)
	var tries []string // the nodes of the attempts that were retried
	defer func() {
		if w != nil {
			s.waiting.leave(w)
		}
	}()
	for {
		d, err := s.route(ctx, req, true)
		out.Decision = d
		if err == nil && w != nil {
			// Placed after waiting: out of line, and the next may fit too.
			s.waiting.leave(w)
			s.waiting.next(w, false)
			w = nil
		}
		if err == nil {
			s.avoid(d, tries)
			task.Requires = d.Requires
			if s.cfg.Sign != nil {
				// Signed as sent: a task that waited for a slot is still
				// within the nodes' signing window.
				task.Submitted = time.Now()
				if err := s.cfg.Sign(task); err != nil {
					s.released(d.Order[0].Node)
					return out, err
				}
			}
			if h.decided != nil {
				h.decided(d)
			}
			oerr := s.offer(ctx, task, d, h, out)
			if s.again(ctx, req, h, out, oerr, &tries) {
				continue
			}
			if oerr == nil || !errors.Is(oerr, wire.ErrNotStarted) || req.NoWait {
				return out, oerr
			}
			err = oerr // everyone declined (busy): wait and try again
		} else if !errors.Is(err, router.ErrAllBusy) || req.NoWait {
			if s.again(ctx, req, h, out, err, &tries) {
				continue
			}
			return out, err
		}
		if w == nil {
			// Get in line, then look once more: a slot freed before we were
			// in line woke nobody.
			w = s.waiting.join()
			continue
		}
		if freed {
			s.waiting.next(w, true) // a freed slot we could not use
		}
		s.log.Debug("waiting for a free slot", "task", task.ID, "why", err)
		wait := retryBackoff
		if s.waiting.first(w) {
			wait = headRetry
		}
		t := time.NewTimer(wait)
		freed = false
		select {
		case freed = <-w.wake:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return out, fmt.Errorf("waiting for a free node: %w (last: %v)", ctx.Err(), err)
		}
		t.Stop()
	}
}

// released notes that a placement ended: the first waiting placement
// retries.
func (s *Service) released(node string) {
	s.rt.Release(node)
	s.waiting.freed()
}
