package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/fabric-run/fabric/internal/locks"
	"github.com/fabric-run/fabric/internal/wire"
)

// Why a task was stopped, as context causes.
var (
	// errLockTimeout ends a lock wait at the task's lock timeout.
	errLockTimeout = errors.New("lock timeout")
	// errNotStarted stops a task still waiting for its locks when its
	// node shuts down.
	errNotStarted = errors.New("node shutting down before the task started")
)

// lockLostError stops a task whose node lost one of its locks.
type lockLostError struct {
	lock string
	err  error
}

func (e *lockLostError) Error() string {
	return fmt.Sprintf("killed: node lost lock %s while the task ran (%v); others may hold it now", e.lock, e.err)
}

// checkV2 vets what a task asks beyond a command: its locks (returned in
// the order they are taken: by name), its GPUs and its standard input. A
// refusal is a bad request, or a mismatch when another node may take it.
func (w *Worker) checkV2(task *wire.Task, format wire.Format, reply string) ([]locks.Spec, wire.ErrorKind, error) {
	bad := func(err error) ([]locks.Spec, wire.ErrorKind, error) { return nil, wire.ErrBadRequest, err }
	if task.GPUs < 0 || task.LockTimeout < 0 || task.IdleTimeout < 0 {
		return bad(errors.New("negative gpus, lock timeout or idle timeout"))
	}
	if task.StdinStream && len(task.Stdin) > 0 {
		return bad(errors.New("task has both inline and streamed standard input; send one"))
	}
	if task.StdinStream && (format != wire.FormatMsgpack || reply == "") {
		return bad(errors.New("streamed standard input needs a fabric front end (msgpack, with a reply subject)"))
	}
	if len(task.Locks) == 0 {
		return nil, "", nil
	}
	specs := make([]locks.Spec, 0, len(task.Locks))
	for _, l := range task.Locks {
		s, err := locks.ParseSpec(l)
		if err != nil {
			return bad(err)
		}
		if slices.ContainsFunc(specs, func(o locks.Spec) bool { return o.Name == s.Name }) {
			return bad(fmt.Errorf("lock %s named twice", s.Name))
		}
		specs = append(specs, s)
	}
	// One order for every task: two tasks taking the same locks never
	// wait for each other in a circle.
	slices.SortFunc(specs, func(a, b locks.Spec) int { return cmp.Compare(a.Name, b.Name) })
	return specs, "", nil
}

// locks returns the lock store, opening it on first use.
func (w *Worker) locks(ctx context.Context) (*locks.Store, error) {
	w.mu.Lock()
	st := w.lockStore
	w.mu.Unlock()
	if st != nil {
		return st, nil
	}
	hb := w.cfg.HeartbeatInterval
	if hb <= 0 {
		hb = DefaultHeartbeatInterval
	}
	lease, renew := locks.LeaseFor(hb)
	st, err := locks.Open(ctx, w.nc, locks.Config{Lease: lease, Renew: renew, Logger: w.log})
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lockStore == nil {
		w.lockStore = st
	}
	return w.lockStore, nil
}

// maxLockWhat bounds the command shown to people listing a lock.
const maxLockWhat = 120

// takeLocks waits for j's locks, then for its slot and devices, telling
// the submitter and followers how far it got. It returns the leases, or
// the result of a task that will not start.
func (w *Worker) takeLocks(j *job, format wire.Format, reply string) ([]*locks.Lease, *wire.Result) {
	ctx := j.ctx
	if lt := j.task.LockTimeout.D(); lt > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, lt, errLockTimeout)
		defer cancel()
	}
	what := j.task.Display()
	if len(what) > maxLockWhat {
		what = what[:maxLockWhat-3] + "..."
	}
	started := time.Now()
	st, err := w.locks(ctx)
	if err != nil {
		return nil, w.lockFailure(j, ctx, j.locks[0], -1, time.Since(started), err)
	}
	var held []*locks.Lease
	for _, spec := range j.locks {
		ahead := -1
		l, err := st.Acquire(ctx, spec, j.task.ID, locks.Info{Node: w.cfg.Name, What: what}, func(p locks.Position) {
			ahead = p.Ahead
			w.progress(j, format, reply, &wire.Progress{State: wire.ProgressWaiting, Lock: spec.Name, Ahead: p.Ahead,
				Reason: fmt.Sprintf("waiting for lock %s (%d ahead)", spec.Name, p.Ahead)})
		})
		if err != nil {
			w.releaseLocks(j, held)
			return nil, w.lockFailure(j, ctx, spec, ahead, time.Since(started), err)
		}
		held = append(held, l)
	}
	w.mu.Lock()
	short := w.res.short(w.cfg.Name, j.need)
	w.mu.Unlock()
	if short != "" {
		w.progress(j, format, reply, &wire.Progress{State: wire.ProgressWaiting,
			Reason: "holding its locks, waiting for " + short})
	}
	if err := w.waitResources(j.ctx, j); err != nil {
		w.releaseLocks(j, held)
		res := &wire.Result{ExitCode: -1, Error: wire.ErrCancelled, Message: "cancelled before it started: " + err.Error()}
		explainCancel(j, res)
		return nil, res
	}
	w.progress(j, format, reply, &wire.Progress{State: wire.ProgressStarted})
	return held, nil
}

// lockFailure is the result of a task that did not get its lock.
func (w *Worker) lockFailure(j *job, ctx context.Context, spec locks.Spec, ahead int, waited time.Duration, err error) *wire.Result {
	res := &wire.Result{ExitCode: -1}
	place := ""
	if ahead >= 0 {
		place = fmt.Sprintf(", %d ahead", ahead)
	}
	switch {
	case errors.Is(context.Cause(ctx), errLockTimeout) && j.ctx.Err() == nil:
		res.Error = wire.ErrLockTimeout
		res.Message = fmt.Sprintf("waited %s (its lock timeout) for lock %s%s; it never started", j.task.LockTimeout.D(), spec.Name, place)
	case j.ctx.Err() != nil:
		res.Error = wire.ErrCancelled
		res.Message = fmt.Sprintf("cancelled after waiting %s for lock %s%s; it never started: %v", waited.Round(time.Millisecond), spec.Name, place, context.Cause(j.ctx))
		explainCancel(j, res)
	case errors.Is(err, locks.ErrOwnerExists):
		res.Error = wire.ErrRejected
		res.Message = fmt.Sprintf("task %s already holds or waits for lock %s", j.task.ID, spec.Name)
	default:
		res.Error = wire.ErrStartFailed
		res.Message = fmt.Sprintf("could not take lock %s: %v", spec.Name, err)
	}
	return res
}

// releaseTimeout bounds the wait for the hub to take a lock back; if it
// does not answer, the lease ends on its own.
const releaseTimeout = 5 * time.Second

// releaseLocks gives leases back, so the next in line starts at once.
func (w *Worker) releaseLocks(j *job, leases []*locks.Lease) {
	for _, l := range leases {
		ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
		if err := l.Release(ctx); err != nil {
			w.log.Warn("release lock", "id", j.task.ID, "err", err)
		}
		cancel()
	}
}

// watchLeases kills j if its node loses one of its locks while it runs;
// the returned func stops watching.
func (w *Worker) watchLeases(j *job, leases []*locks.Lease) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, l := range leases {
		wg.Go(func() {
			select {
			case <-l.Lost():
				w.log.Warn("lock lost while its task ran: killing the task", "id", j.task.ID, "lock", l.Spec().Name, "err", l.Err())
				j.cancel(&lockLostError{lock: l.Spec().Name, err: l.Err()})
			case <-done:
			}
		})
	}
	return func() {
		close(done)
		wg.Wait()
	}
}

// explainCancel gives a cancelled result the kind its cause calls for.
func explainCancel(j *job, res *wire.Result) {
	cause := context.Cause(j.ctx)
	var lost *lockLostError
	var broke *inputError
	switch {
	case errors.As(cause, &lost):
		res.Error, res.Message = wire.ErrLockLost, lost.Error()
	case errors.As(cause, &broke):
		res.Message = broke.Error()
	case errors.Is(cause, errNotStarted):
		res.Error = wire.ErrDraining
	}
}

// progress tells the submitter (a fabric front end) and the task's
// followers how far the task got.
func (w *Worker) progress(j *job, format wire.Format, reply string, p *wire.Progress) {
	p.ID, p.Node, p.At = j.task.ID, w.cfg.Name, time.Now()
	if reply != "" && format == wire.FormatMsgpack {
		w.send(reply, format, p)
	}
	if j.task.OutputTo != "" {
		w.send(j.task.OutputTo, wire.FormatMsgpack, p)
	}
}
