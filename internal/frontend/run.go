package frontend

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/fabric-run/fabric/internal/dispatch"
	"github.com/fabric-run/fabric/internal/fleet"
	"github.com/fabric-run/fabric/internal/router"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/subjects"
)

// While every matching node is busy, a placement waits in line (waiters):
// a slot this front end frees wakes the first in line; the first also
// looks again every headRetry (for slots freed elsewhere: other front
// ends' tasks, new nodes), the others every retryBackoff.
const (
	retryBackoff = time.Second
	headRetry    = 100 * time.Millisecond
)

// Request is a command to run on the cluster.
type Request struct {
	// ID is the task id; empty means a new one.
	ID string
	// Command runs under the node's shell; Argv runs with no shell.
	Command string
	Argv    []string
	Cwd     string
	Env     map[string]string
	// Timeout bounds the run on the node; zero means the default.
	Timeout time.Duration
	// OutputLimit caps what is kept of each stream; zero means the node's.
	OutputLimit int64
	// Requires are the explicit requirements (os, arch, capabilities, node).
	Requires wire.Requirements
	// Batch turns local preference off, so a batch spreads.
	Batch bool
	// NoWait fails at once when every matching node is busy, instead of
	// waiting for a free slot.
	NoWait bool
	// Detach returns once a node has accepted the task; its result goes to
	// ResultTo only.
	Detach bool
	// ResultTo is a subject the node also publishes the result to.
	ResultTo string
	// OutputTo is a subject the node also streams output to, for followers.
	OutputTo string
	// Unattended says the submitter may be gone before the task ends: only
	// worker nodes, which record their own results, qualify (a task over
	// SSH lives only as long as the front end that runs it).
	Unattended bool
}

// Hooks observe a Run: the placement decision, then the dispatch.
type Hooks struct {
	dispatch.Hooks
	// OnDecision is called with each placement decision, before the task is
	// offered to the chosen node.
	OnDecision func(*router.Decision)
}

// Outcome is how a Run ended.
type Outcome struct {
	Task     *wire.Task
	Decision *router.Decision
	// Node is where the task ran ("" if it did not).
	Node string
	// Result is nil only for a detached task or one that never started.
	Result   *wire.Result
	Declined []string
}

// Task builds the wire task for req.
func (f *Frontend) Task(req Request) *wire.Task {
	t := &wire.Task{
		ID: req.ID, Command: req.Command, Argv: req.Argv, Cwd: req.Cwd, Env: req.Env,
		Timeout: wire.Duration(req.Timeout), OutputLimit: req.OutputLimit,
		Requires: req.Requires, Submitted: time.Now(), ResultTo: req.ResultTo, OutputTo: req.OutputTo,
	}
	if t.ID == "" {
		t.ID = wire.NewTaskID()
	}
	if t.Timeout <= 0 {
		t.Timeout = wire.Duration(f.cfg.DefaultTimeout)
	}
	return t
}

// Plan decides where req would run, without running it.
func (f *Frontend) Plan(ctx context.Context, req Request) (*router.Decision, error) {
	return f.route(ctx, req, false)
}

// route decides where req runs, placing it (counting it against the chosen
// node) if place. Without SSH-only machines it decides over the registry's
// compact node table, with no copy of the cluster per decision; with them,
// over the candidate list, SSH machines included.
func (f *Frontend) route(ctx context.Context, req Request, place bool) (d *router.Decision, err error) {
	rreq := f.routeRequest(req)
	if f.cfg.SSH != nil {
		cands := f.candidatesFor(ctx, req)
		if place {
			return f.rt.Place(rreq, cands)
		}
		return f.rt.Route(rreq, cands)
	}
	f.reg.View(func(t *fleet.Table, now time.Time) {
		if place {
			d, err = f.rt.PlaceTable(rreq, t, now)
		} else {
			d, err = f.rt.RouteTable(rreq, t, now)
		}
	})
	return d, err
}

// candidatesFor returns the candidates req may use.
func (f *Frontend) candidatesFor(ctx context.Context, req Request) []router.Candidate {
	cands := f.Candidates(ctx)
	if req.Unattended {
		cands = slices.DeleteFunc(cands, func(c router.Candidate) bool { return c.Via == router.ViaSSH })
	}
	return cands
}

func (f *Frontend) routeRequest(req Request) router.Request {
	return router.Request{Command: req.Command, Argv: req.Argv, Requires: req.Requires, Batch: req.Batch, Local: f.Local()}
}

// Run places req and runs it, streaming output to hooks.OnOutput. It waits
// for a free slot while every matching node is busy (unless NoWait). The
// error says why the command did not run (no matching node, unknown node,
// refused, nobody accepted, ctx ended); once it runs, the Result says how it
// ended.
func (f *Frontend) Run(ctx context.Context, req Request, hooks Hooks) (*Outcome, error) {
	task := f.Task(req)
	out := &Outcome{Task: task}
	if f.cfg.Check != nil {
		if err := f.cfg.Check(task); err != nil {
			return out, fmt.Errorf("%w: %w", ErrRefused, err)
		}
	}
	var w *waiter  // our place in line, once we wait
	freed := false // what woke us was a slot freed (not a guess or a timer)
	defer func() {
		if w != nil {
			f.waiting.leave(w)
		}
	}()
	for {
		d, err := f.route(ctx, req, true)
		out.Decision = d
		if err == nil && w != nil {
			// Placed after waiting: out of line, and the next may fit too.
			f.waiting.leave(w)
			f.waiting.next(w, false)
			w = nil
		}
		if err == nil {
			task.Requires = d.Requires
			if f.cfg.Sign != nil {
				// Signed as sent: a task that waited for a slot is still
				// within the nodes' signing window.
				task.Submitted = time.Now()
				if err := f.cfg.Sign(task); err != nil {
					f.released(d.Order[0].ID)
					return out, err
				}
			}
			if hooks.OnDecision != nil {
				hooks.OnDecision(d)
			}
			disp, derr := f.dispatch(ctx, task, d, req.Detach, hooks.Hooks)
			out.Node, out.Result = disp.Node, disp.Result
			out.Declined = append(out.Declined, disp.Declined...)
			if derr == nil || !errors.Is(derr, dispatch.ErrUnavailable) || req.NoWait {
				return out, derr
			}
			err = derr // everyone declined (busy): wait and try again
		} else if !errors.Is(err, router.ErrAllBusy) || req.NoWait {
			return out, err
		}
		if w == nil {
			// Get in line, then look once more: a slot freed before we were
			// in line woke nobody.
			w = f.waiting.join()
			continue
		}
		if freed {
			f.waiting.next(w, true) // a freed slot we could not use
		}
		f.log.Debug("waiting for a free slot", "task", task.ID, "why", err)
		wait := retryBackoff
		if f.waiting.first(w) {
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

// dispatch sends task to the decision's candidates, keeping the router's
// count of in-flight placements on the node that really took it.
func (f *Frontend) dispatch(ctx context.Context, task *wire.Task, d *router.Decision, detach bool, hooks dispatch.Hooks) (*dispatch.Outcome, error) {
	placed := d.Order[0].ID
	accepted := hooks.OnAccepted
	hooks.OnAccepted = func(node, instance string) {
		if node != placed {
			f.rt.Release(placed)
			f.rt.Acquire(node)
			placed = node
		}
		if accepted != nil {
			accepted(node, instance)
		}
	}
	defer func() { f.released(placed) }()
	out := &dispatch.Outcome{}
	for _, c := range d.Order {
		var (
			o   *dispatch.Outcome
			err error
		)
		if c.Via == router.ViaSSH {
			o, err = f.runSSH(ctx, task, c.ID, hooks)
		} else {
			o, err = f.disp.Dispatch(ctx, task, []dispatch.Target{target(d, c)}, detach, hooks)
			if o.Result != nil && o.Node != "" {
				// It ended: the node's last heartbeat may still count it.
				f.reg.Finished(o.Node, task.ID)
			}
		}
		out.Declined = append(out.Declined, o.Declined...)
		if err == nil || !errors.Is(err, dispatch.ErrUnavailable) || ctx.Err() != nil {
			out.Node, out.Result = o.Node, o.Result
			return out, err
		}
	}
	return out, dispatch.Unavailable(out.Declined)
}

// runSSH runs task on an SSH-only node; a task that never started there is
// "declined" like a busy worker, so the next candidate is tried.
func (f *Frontend) runSSH(ctx context.Context, task *wire.Task, node string, hooks dispatch.Hooks) (*dispatch.Outcome, error) {
	if hooks.OnAccepted != nil {
		hooks.OnAccepted(node, "")
	}
	res, err := f.cfg.SSH.Run(ctx, node, task, hooks.OnOutput)
	if err != nil {
		if hooks.OnDeclined != nil {
			hooks.OnDeclined(node, err.Error())
		}
		declined := []string{node + ": " + err.Error()}
		return &dispatch.Outcome{Declined: declined}, dispatch.Unavailable(declined)
	}
	return &dispatch.Outcome{Node: node, Result: res}, nil
}

// target is the subject to offer a task to node c on: that of the first
// required capability ("any" if none).
func target(d *router.Decision, c router.Candidate) dispatch.Target {
	capability := subjects.AnyCapability
	if len(d.Requires.Capabilities) > 0 {
		capability = d.Requires.Capabilities[0]
	}
	return dispatch.Target{Node: c.ID, OS: c.OS, Arch: c.Arch, Capability: capability}
}

// BatchItem is one command's outcome in a batch.
type BatchItem struct {
	Outcome *Outcome
	Err     error
}

// RunBatch runs reqs across the cluster, at most maxParallel at once (zero:
// all), spreading them (each is placed as a batch member). Results come back
// in input order. With failFast, no further command is launched after one
// fails; those not launched get an error saying so. hooks, if not nil,
// gives the hooks of command i.
func (f *Frontend) RunBatch(ctx context.Context, reqs []Request, maxParallel int, failFast bool, hooks func(i int) Hooks) []BatchItem {
	if maxParallel <= 0 || maxParallel > len(reqs) {
		maxParallel = len(reqs)
	}
	items := make([]BatchItem, len(reqs))
	sem := make(chan struct{}, max(maxParallel, 1))
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed bool
	)
	for i, req := range reqs {
		sem <- struct{}{}
		mu.Lock()
		stop := failFast && failed
		mu.Unlock()
		if stop || ctx.Err() != nil {
			<-sem
			why := errors.New("not started: an earlier command failed (fail_fast)")
			if !stop {
				why = fmt.Errorf("not started: %w", ctx.Err())
			}
			items[i] = BatchItem{Err: why}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			req.Batch = true
			var h Hooks
			if hooks != nil {
				h = hooks(i)
			}
			out, err := f.Run(ctx, req, h)
			items[i] = BatchItem{Outcome: out, Err: err}
			if err != nil || !out.Result.Succeeded() {
				mu.Lock()
				failed = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return items
}
