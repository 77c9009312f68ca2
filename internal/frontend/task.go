package frontend

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/router"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
)

// Submit records req and starts it. It returns once a node has accepted the
// task (or it could not be placed: the error says why, and the record says
// failed). The task then runs on in the background whatever happens to ctx;
// use Wait for its result and Cancel to stop it.
func (s *Service) Submit(ctx context.Context, req Request) (*Status, error) {
	rec, err := s.record(ctx, &req)
	if first, ok := attachedTo(err); ok {
		return s.attach(ctx, first, req.Key, false)
	}
	if err != nil {
		return nil, err
	}
	l, err := s.start(rec, req, nil)
	if err != nil {
		return nil, err
	}
	select {
	case <-l.placed:
	case <-ctx.Done():
		// The caller gave up before any node took it: cancel, not orphan.
		l.cancel(fmt.Errorf("submitter gave up: %w", ctx.Err()))
		<-l.placed
	}
	return statusOf(l)
}

// Run runs req in the foreground: like Submit, then it waits for the end,
// passing raw output to onOutput as it streams (it may be nil). When ctx
// ends first, the task is cancelled on its node and Run waits for that.
// The error says why the task did not run; the Status says how it ended.
func (s *Service) Run(ctx context.Context, req Request, onOutput wire.OutputFunc, opts ...RunOption) (*Status, error) {
	rec, err := s.record(ctx, &req)
	if first, ok := attachedTo(err); ok {
		return s.attach(ctx, first, req.Key, true)
	}
	if err != nil {
		return nil, err
	}
	l, err := s.start(rec, req, onOutput, opts...)
	if err != nil {
		return nil, err
	}
	select {
	case <-l.done:
	case <-ctx.Done():
		l.cancel(fmt.Errorf("interrupted: %w", context.Cause(ctx)))
		<-l.done
	}
	return statusOf(l)
}

// record makes req's task complete (id, timeout, submission time, the
// subjects its result and output go to) and creates its record (queued).
func (s *Service) record(ctx context.Context, req *Request) (tasks.Record, error) {
	if err := req.validate(); err != nil {
		return tasks.Record{}, err
	}
	t := &req.Task
	if t.ID == "" {
		t.ID = wire.NewTaskID()
	}
	if req.Key != "" {
		// Claimed before the record is written: of two submissions with
		// one key, exactly one gets to record and run its task.
		first, err := s.store.ClaimKey(ctx, req.Key, t.ID)
		if err != nil {
			return tasks.Record{}, fmt.Errorf("idempotency key: %w", err)
		}
		if first != t.ID {
			return tasks.Record{}, &attachedError{id: first}
		}
	}
	if t.Timeout <= 0 {
		t.Timeout = wire.Duration(s.cfg.DefaultTimeout)
	}
	t.Submitted = time.Now()
	if subj := s.store.ResultSubject(t.ID); subj != "" {
		t.ResultTo = subj
	}
	if t.OutputTo == "" {
		if subj, err := s.cfg.Subjects.Output(t.ID); err == nil {
			t.OutputTo = subj
		}
	}
	rec := tasks.RecordOf(t)
	rec.Via, rec.Background, rec.State, rec.Key = wire.ViaNATS, req.Background, tasks.StateQueued, req.Key
	if err := s.store.Create(ctx, &rec); err != nil {
		return rec, fmt.Errorf("record task: %w", err)
	}
	return rec, nil
}

// start launches the follower of a recorded task.
func (s *Service) start(rec tasks.Record, req Request, raw wire.OutputFunc, opts ...RunOption) (*live, error) {
	runCtx, cancel := context.WithCancelCause(context.Background())
	l := newLive(rec, s.cfg.OutputLimit, cancel)
	l.raw = raw
	for _, o := range opts {
		o(l)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel(nil)
		return nil, errShuttingDown
	}
	s.live[req.ID] = l
	s.followers.Add(1)
	s.mu.Unlock()
	go s.follow(runCtx, l, req)
	return l, nil
}

// follow runs one task to its end and keeps its record up to date.
func (s *Service) follow(ctx context.Context, l *live, req Request) {
	defer s.followers.Done()
	defer l.cancel(nil)
	h := &hooks{
		decided: func(d *router.Decision) {
			l.update(func(r *tasks.Record) { r.Reason, r.Requires = d.Reason, d.Requires })
		},
		accepted: func(n *registry.Node, instance string) {
			rec := l.update(func(r *tasks.Record) {
				r.Node, r.Instance, r.Via, r.State, r.Started = n.Node, instance, n.Via, tasks.StateRunning, time.Now()
				if len(r.Locks) > 0 { // it starts once it holds them (progress)
					r.State, r.Started, r.Waiting = tasks.StateQueued, time.Time{}, "waiting for its locks"
				}
			})
			s.save(&rec)
			if l.accepted != nil {
				l.accepted(l.id, n.Node)
			}
			closePlaced(l)
		},
		output:   l.append,
		progress: func(p *wire.Progress) { s.progressed(l, p) },
		retried:  func(a tasks.Attempt) { s.retried(l, a) },
	}
	h.stdin, h.fed = counted(req.Input)
	out, err := s.run(ctx, &req, h)
	l.setDeclined(out.Declined)
	now := time.Now()
	var rec tasks.Record
	switch {
	case err != nil:
		kind := ErrorKind(err)
		rec = l.update(func(r *tasks.Record) {
			r.State, r.Error, r.Message, r.Finished = tasks.StateFailed, kind, err.Error(), now
			if kind == wire.ErrCancelled {
				r.State = tasks.StateCancelled
			}
		})
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
	case out.Result == nil:
		// Detached at shutdown: the task runs on and its node records the
		// result. A caller waiting for it is told it still runs.
		closePlaced(l)
		close(l.done)
		s.forget(l, false)
		return
	default:
		res := out.Result
		s.keepResult(res, out.Recorded)
		l.ended(res) // readers see the result from now on
		rec = l.update(func(r *tasks.Record) {
			r.Finished = now
			r.State = tasks.StateOf(r, res)
			r.Error, r.Message = res.Error, res.Message
			if r.Node == "" { // it ended with no start to report (refused as it came)
				r.Node = out.Node
			}
		})
	}
	s.save(&rec)
	closePlaced(l)
	close(l.done)
	s.forget(l, true)
}

// closePlaced closes l.placed unless a node's acceptance already did.
func closePlaced(l *live) {
	if !isClosed(l.placed) {
		close(l.placed)
	}
}

// keepResult sees that the store holds res, writing it only where nobody
// else does. The result is stored once, by whoever ran the task: a worker
// publishes its result to the task's ResultTo, the store's result subject
// (recorded); the front end records what it alone knows: a run over SSH,
// an end it had to infer (a node lost), a result the node's record of
// never arrived within resultGrace, and every result of a store with no
// result subject (the memory store, which no node can reach).
func (s *Service) keepResult(res *wire.Result, recorded bool) {
	ctx := context.Background()
	if recorded && s.store.ResultSubject(res.ID) != "" {
		if s.stored(ctx, res.ID) {
			return
		}
		s.log.Warn("the node's record of the result did not arrive; recording it here", "task", res.ID)
	}
	if err := s.store.PutResult(ctx, res); err != nil {
		s.log.Warn("store result", "task", res.ID, "err", err)
	}
}

// stored waits, up to resultGrace, for the store to have task id's result:
// a node publishes it just after it answers the front end, and the store
// takes it in on its own time. Callers then read the result wherever they
// are, as soon as this front end says the task ended.
func (s *Service) stored(ctx context.Context, id string) bool {
	if _, res, err := s.store.Get(ctx, id); err == nil && res != nil {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, resultGrace)
	defer cancel()
	_, err := s.store.WaitResult(ctx, id)
	return err == nil
}

// forget drops a finished task from memory after KeepLive (at once when the
// service is closing or keep is false).
func (s *Service) forget(l *live, keep bool) {
	drop := func() {
		s.mu.Lock()
		if s.live[l.id] == l {
			delete(s.live, l.id)
		}
		s.mu.Unlock()
	}
	if !keep {
		drop()
		return
	}
	t := time.NewTimer(s.cfg.KeepLive)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.detach:
	}
	drop()
}

func (s *Service) save(rec *tasks.Record) {
	if err := s.store.Update(context.Background(), rec); err != nil {
		s.log.Warn("update task record", "task", rec.ID, "err", err)
	}
}

// ErrorKind classifies an error that kept a task from running.
func ErrorKind(err error) wire.ErrorKind {
	switch {
	case errors.Is(err, router.ErrNoMatch):
		return wire.ErrNoMatch
	case errors.Is(err, router.ErrUnknownNode):
		return wire.ErrUnknownNode
	case errors.Is(err, router.ErrAllBusy):
		return wire.ErrBusy
	case errors.Is(err, ErrRefused), errors.Is(err, wire.ErrNodeRefused):
		return wire.ErrRejected
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return wire.ErrCancelled
	}
	return wire.ErrUnavailable
}

// Cancel stops a task: one this front end follows through its context, any
// other through its node, from its record.
func (s *Service) Cancel(ctx context.Context, id, reason string) error {
	if reason == "" {
		reason = "cancelled by request"
	}
	if l := s.lookup(id); l != nil {
		if isClosed(l.done) {
			return fmt.Errorf("task %s already ended", id)
		}
		l.cancel(errors.New(reason))
		select {
		case <-l.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	rec, res, err := s.store.Get(ctx, id)
	if err != nil {
		if errors.Is(err, tasks.ErrNotFound) {
			return fmt.Errorf("%w %s", ErrUnknownTask, id)
		}
		return err
	}
	if res != nil || tasks.StateOf(rec, nil).Final() {
		return fmt.Errorf("task %s already ended (%s)", id, tasks.StateOf(rec, res))
	}
	if rec.Node == "" {
		return fmt.Errorf("task %s is not on a node yet", id)
	}
	if rec.Via == wire.ViaSSH {
		return fmt.Errorf("task %s runs over SSH on %s from another front end; only that front end can cancel it", id, rec.Node)
	}
	return s.disp.Cancel(ctx, rec.Node, id, reason)
}

func (s *Service) lookup(id string) *live {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live[id]
}

// Listen returns the task's output lines from now on, for a task this front
// end follows (ok false otherwise). Call stop when done.
func (s *Service) Listen(id string) (lines <-chan Line, stop func(), ok bool) {
	l := s.lookup(id)
	if l == nil {
		return nil, nil, false
	}
	ch, stop := l.listen()
	return ch, stop, true
}

// Wait waits up to budget for the task to end or, with until, for a line of
// its output to match. It returns the status at that point; Status.Matched
// says whether until matched. Wait never cancels the task. A task this front
// end does not follow is shown lost, and the wait ends, once its node is
// (it stopped heartbeating, left or restarted) and no result came.
func (s *Service) Wait(ctx context.Context, id string, until *regexp.Regexp, budget time.Duration) (*Status, error) {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	if l := s.lookup(id); l != nil {
		return waitLive(ctx, l, until), nil
	}
	st, err := s.Status(ctx, id)
	if err != nil || settled(st) {
		return st, err
	}
	return s.waitStored(ctx, st)
}

func waitLive(ctx context.Context, l *live, until *regexp.Regexp) *Status {
	var lines <-chan Line
	matched := false
	if until != nil {
		ch, stop := l.listen()
		defer stop()
		lines, matched = ch, l.matches(until)
	}
wait:
	for !matched {
		select {
		case <-l.done:
			break wait
		case <-ctx.Done():
			break wait
		case line := <-lines:
			matched = until.MatchString(line.Text)
		}
	}
	st, _ := statusOf(l)
	st.Matched = matched
	return st
}
