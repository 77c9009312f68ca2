package frontend

import (
	"context"
	"time"

	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
)

// BatchOptions shape a Batch.
type BatchOptions struct {
	// MaxParallel bounds how many run at once (zero: no bound beyond the
	// cluster's free slots).
	MaxParallel int
	// FailFast stops launching after the first command that fails.
	FailFast bool
	// Budget is how long Batch waits before returning with what has ended;
	// the rest runs on and keeps its records.
	Budget time.Duration
}

// Batch records every request at once (so each has an id to ask about),
// launches them spread over the cluster, and waits up to the budget. The
// statuses come back in input order; those not ended by then are running or
// queued, and go on.
func (s *Service) Batch(ctx context.Context, reqs []Request, opt BatchOptions) ([]*Status, error) {
	recs := make([]tasks.Record, len(reqs))
	for i := range reqs {
		reqs[i].Batch = true
		rec, err := s.record(ctx, &reqs[i])
		if err != nil {
			return nil, err
		}
		recs[i] = rec
	}
	lives := make([]*live, len(reqs))
	launched := make(chan int, len(reqs)) // index of each launched task, in order
	s.mu.Lock()
	closed := s.closed
	if !closed {
		s.followers.Add(1)
	}
	s.mu.Unlock()
	if closed {
		return nil, errShuttingDown
	}
	go s.launch(recs, reqs, opt, lives, launched)

	deadline := time.NewTimer(opt.Budget)
	defer deadline.Stop()
	var pending []<-chan struct{} // done channels of launched tasks, in launch order
	for {
		select {
		case i, ok := <-launched:
			if !ok {
				launched = nil
			} else {
				pending = append(pending, lives[i].done)
			}
		case <-first(pending):
			pending = pending[1:]
		case <-deadline.C:
			return s.batchStatus(ctx, recs), nil
		case <-ctx.Done():
			return s.batchStatus(ctx, recs), nil
		}
		if launched == nil && len(pending) == 0 {
			return s.batchStatus(ctx, recs), nil
		}
	}
}

// first returns the first channel, or nil (never ready) when there is none.
func first(chs []<-chan struct{}) <-chan struct{} {
	if len(chs) == 0 {
		return nil
	}
	return chs[0]
}

// launch starts the batch's tasks, at most MaxParallel at a time, stopping
// after a failure with FailFast. It is a follower of the service.
func (s *Service) launch(recs []tasks.Record, reqs []Request, opt BatchOptions, lives []*live, launched chan<- int) {
	defer s.followers.Done()
	defer close(launched)
	n := opt.MaxParallel
	if n <= 0 || n > len(reqs) {
		n = len(reqs)
	}
	slots := make(chan struct{}, n)
	var running []*live
	for i := range reqs {
		select {
		case slots <- struct{}{}:
		case <-s.detach:
			return
		}
		if opt.FailFast && anyFailed(running) {
			s.notStarted(recs[i:])
			return
		}
		l, err := s.start(recs[i], reqs[i], nil)
		if err != nil {
			s.notStarted(recs[i:])
			return
		}
		lives[i] = l
		running = append(running, l)
		launched <- i
		s.followers.Add(1) // legal: this launcher is itself a follower
		go func() {
			defer s.followers.Done()
			select {
			case <-l.done:
			case <-s.detach:
			}
			<-slots
		}()
	}
}

// anyFailed reports whether one of the tasks already ended badly.
func anyFailed(ls []*live) bool {
	for _, l := range ls {
		if !isClosed(l.done) {
			continue
		}
		l.mu.Lock()
		bad := l.err != nil || !l.result.Succeeded()
		l.mu.Unlock()
		if bad {
			return true
		}
	}
	return false
}

// notStarted records that these tasks will not run.
func (s *Service) notStarted(recs []tasks.Record) {
	for i := range recs {
		rec := recs[i]
		rec.State, rec.Error, rec.Finished = tasks.StateFailed, wire.ErrCancelled, time.Now()
		rec.Message = "not started: an earlier command of the batch failed (fail_fast)"
		s.save(&rec)
	}
}

func (s *Service) batchStatus(ctx context.Context, recs []tasks.Record) []*Status {
	out := make([]*Status, len(recs))
	for i, r := range recs {
		st, err := s.Status(ctx, r.ID)
		if err != nil {
			st = &Status{Record: r, State: r.State, Note: err.Error()}
		}
		out[i] = st
	}
	return out
}
