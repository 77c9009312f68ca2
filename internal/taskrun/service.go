// Package taskrun is a front end's task service: it submits commands with a
// record each, follows them in the background past the caller's patience,
// keeps their output for reading and waiting, and answers status, output and
// cancel for any task id, its own or (from the records) another front end's.
package taskrun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/fabric-run/fabric/internal/dispatch"
	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/router"
	"github.com/fabric-run/fabric/internal/runner"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
)

// Defaults for Config fields left zero.
const (
	DefaultKeepLive = 10 * time.Minute
)

// ErrUnknownTask is returned for a task id no record knows.
var ErrUnknownTask = errors.New("unknown task")

var errShuttingDown = errors.New("task service is shutting down")

// Config configures a Service.
type Config struct {
	// Store keeps the records; required.
	Store tasks.Store
	// OutputLimit is how much of each stream is kept in memory for a task
	// this front end follows (default the node's, 1 MiB).
	OutputLimit int
	// KeepLive is how long a finished task stays in memory after it ended,
	// for fast reads (default 10 min); the record stays in the store.
	KeepLive time.Duration
	// Logger receives the service's log; default discards.
	Logger *slog.Logger
}

// Service runs tasks and answers for them. It is safe for concurrent use.
type Service struct {
	fe    *frontend.Frontend
	store tasks.Store
	cfg   Config
	log   *slog.Logger

	mu     sync.Mutex
	live   map[string]*live
	closed bool

	detach    chan struct{} // closed by Close: followers let their tasks run on
	followers sync.WaitGroup
	closeOnce sync.Once
}

// New returns a Service running tasks through fe and recording them in
// cfg.Store.
func New(fe *frontend.Frontend, cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("taskrun: no store")
	}
	if cfg.OutputLimit <= 0 {
		cfg.OutputLimit = runner.DefaultOutputLimit
	}
	if cfg.KeepLive <= 0 {
		cfg.KeepLive = DefaultKeepLive
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{fe: fe, store: cfg.Store, cfg: cfg, log: cfg.Logger, live: map[string]*live{}, detach: make(chan struct{})}, nil
}

// Store returns the record store.
func (s *Service) Store() tasks.Store { return s.store }

// Frontend returns the front end tasks run through.
func (s *Service) Frontend() *frontend.Frontend { return s.fe }

// Close stops following tasks; they run on, and their nodes still record
// their results. Safe to call twice.
func (s *Service) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.detach)
		s.followers.Wait()
	})
}

// Submit records req and starts it. It returns once a node has accepted the
// task (or it could not be placed: the error says why, and the record says
// failed). The task then runs on in the background whatever happens to ctx;
// use Wait for its result and Cancel to stop it.
func (s *Service) Submit(ctx context.Context, req frontend.Request, background bool) (*Status, error) {
	rec, err := s.record(ctx, &req, background)
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

// RunOption is an optional setting of one Run.
type RunOption func(*live)

// OnAccepted has Run call f once a node has accepted the task and its record
// says so, before any of its output: with the task id, which any front end
// can then ask about, and the node.
func OnAccepted(f func(id, node string)) RunOption {
	return func(l *live) { l.accepted = f }
}

// Run runs req in the foreground: like Submit, then it waits for the end,
// passing raw output to onOutput as it streams (it may be nil). When ctx
// ends first, the task is cancelled on its node and Run waits for that.
// The error says why the task did not run; the Status says how it ended.
func (s *Service) Run(ctx context.Context, req frontend.Request, onOutput func(wire.Stream, []byte), opts ...RunOption) (*Status, error) {
	rec, err := s.record(ctx, &req, false)
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

// record gives req an id and its subjects, and creates its record (queued).
func (s *Service) record(ctx context.Context, req *frontend.Request, background bool) (tasks.Record, error) {
	if req.ID == "" {
		req.ID = wire.NewTaskID()
	}
	req.ResultTo = s.store.ResultSubject(req.ID)
	if req.OutputTo == "" {
		if subj, err := s.fe.Subjects().Output(req.ID); err == nil {
			req.OutputTo = subj
		}
	}
	rec := tasks.Record{
		ID: req.ID, Command: req.Command, Argv: req.Argv, Cwd: req.Cwd, Requires: req.Requires,
		Via: tasks.ViaNATS, Background: background, State: tasks.StateQueued,
	}
	if err := s.store.Create(ctx, &rec); err != nil {
		return rec, fmt.Errorf("record task: %w", err)
	}
	return rec, nil
}

// start launches the follower of a recorded task.
func (s *Service) start(rec tasks.Record, req frontend.Request, raw func(wire.Stream, []byte), opts ...RunOption) (*live, error) {
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
func (s *Service) follow(ctx context.Context, l *live, req frontend.Request) {
	defer s.followers.Done()
	defer l.cancel(nil)
	var decision *router.Decision
	hooks := frontend.Hooks{
		OnDecision: func(d *router.Decision) {
			decision = d
			l.update(func(r *tasks.Record) { r.Reason, r.Requires = d.Reason, d.Requires })
		},
		Hooks: dispatch.Hooks{
			OnAccepted: func(node, instance string) {
				via := viaOf(decision, node)
				rec := l.update(func(r *tasks.Record) {
					r.Node, r.Instance, r.Via, r.State, r.Started = node, instance, via, tasks.StateRunning, time.Now()
				})
				s.save(&rec)
				if l.accepted != nil {
					l.accepted(l.id, node)
				}
				close(l.placed)
			},
			OnOutput: l.append,
			Detach:   s.detach,
		},
	}
	out, err := s.fe.Run(ctx, req, hooks)
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
	case out.Result == nil: // detached at shutdown: the node records the result
		s.forget(l, false)
		return
	default:
		res := out.Result
		if err := s.store.PutResult(context.Background(), res); err != nil {
			s.log.Warn("store result", "task", l.id, "err", err)
		}
		rec = l.update(func(r *tasks.Record) {
			r.Finished = now
			r.State = tasks.StateOf(r, res)
			r.Error, r.Message = res.Error, res.Message
		})
		l.mu.Lock()
		l.result = res
		l.mu.Unlock()
	}
	s.save(&rec)
	if !isClosed(l.placed) {
		close(l.placed)
	}
	close(l.done)
	s.forget(l, true)
}

// viaOf says how node was reached, from the decision that listed it.
func viaOf(d *router.Decision, node string) string {
	if d != nil {
		for _, c := range d.Order {
			if c.ID == node && c.Via == router.ViaSSH {
				return tasks.ViaSSH
			}
		}
	}
	return tasks.ViaNATS
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
	select {
	case <-time.After(s.cfg.KeepLive):
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
	case errors.Is(err, frontend.ErrRefused), errors.Is(err, dispatch.ErrRejected):
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
	if rec.Via == tasks.ViaSSH {
		return fmt.Errorf("task %s runs over SSH on %s from another front end; only that front end can cancel it", id, rec.Node)
	}
	return s.fe.Dispatcher().Cancel(ctx, rec.Node, id, reason)
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
