package frontend

import (
	"context"
	"fmt"
	"time"

	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
)

// unknownNodeGrace is how long a waiter gives a task's node it has not heard
// from yet (it may have been slow to answer the start-up ping) before it
// calls the task lost: the time a node with the default heartbeat takes to
// be called stale.
const unknownNodeGrace = registry.DefaultStaleIntervals * registry.DefaultInterval

// pingQuiet is how long the last-call ping to a silent node waits.
const pingQuiet = time.Second

// resultGrace is how long a waiter still waits for the result once the node
// is gone: a node publishes a task's result before its last heartbeat, but
// the store may take it in after the heartbeat has arrived here.
const resultGrace = 2 * time.Second

// waitStored waits for a task this front end does not follow: for the result
// its node records, or for that node to be lost (it stopped heartbeating,
// left, or restarted), whichever comes first. Without the second, a task
// whose node died with no front end following it would be waited on forever.
func (s *Service) waitStored(ctx context.Context, st *Status) (*Status, error) {
	id := st.Record.ID
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan error, 1)
	go func() {
		_, err := s.store.WaitResult(wctx, id)
		got <- err
	}()
	why := st.Note // Status already found the node gone
	if st.State != tasks.StateLost {
		lost, stop := s.watchNode(st.Record)
		defer stop()
		select {
		case err := <-got:
			return s.afterResult(ctx, id, err)
		case why = <-lost:
		}
	}
	grace := time.NewTimer(resultGrace)
	defer grace.Stop()
	select {
	case err := <-got:
		if err == nil {
			return s.Status(context.Background(), id)
		}
	case <-grace.C:
	}
	st, err := s.Status(context.Background(), id)
	if err != nil || settled(st) {
		return st, err
	}
	// Record it, as the front end following the task would have: every
	// reader then agrees, and should the node come back with the real
	// result after all, that result replaces this one.
	res := &wire.Result{V: wire.Version, ID: id, Node: st.Record.Node, ExitCode: -1, Error: wire.ErrNodeLost, Message: why}
	if err := s.store.PutResult(context.Background(), res); err != nil {
		s.log.Warn("record lost task", "task", id, "err", err)
	}
	st.Result, st.State, st.Note = res, tasks.StateLost, why
	return st, nil
}

// settled reports whether st is final for good: it has a result, or a final
// state other than lost (which Status also infers, with no result, from a
// node it sees gone).
func settled(st *Status) bool {
	return st.Result != nil || (st.State.Final() && st.State != tasks.StateLost)
}

func (s *Service) afterResult(ctx context.Context, id string, err error) (*Status, error) {
	if err != nil && ctx.Err() == nil {
		return nil, err
	}
	return s.Status(context.Background(), id)
}

// watchNode returns a channel that says why the node running rec is lost,
// once it is. It never fires for a task that is not running on a worker.
// stop releases the watch.
func (s *Service) watchNode(rec tasks.Record) (lost <-chan string, stop func()) {
	if rec.Via == wire.ViaSSH || rec.Node == "" || rec.State != tasks.StateRunning {
		return nil, func() {}
	}
	reg := s.reg
	ch := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, ok := reg.Get(rec.Node); !ok {
			wctx, wcancel := context.WithTimeout(ctx, unknownNodeGrace)
			err := reg.WaitFor(wctx, func(nodes []registry.Node) bool {
				for _, n := range nodes {
					if n.Node == rec.Node {
						return true
					}
				}
				return false
			})
			wcancel()
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				// Last call: a live node answers a ping at once.
				_, _ = reg.Sync(ctx, pingQuiet)
				if _, ok := reg.Get(rec.Node); !ok {
					if ctx.Err() == nil {
						ch <- fmt.Sprintf("node %s stopped heartbeating (not heard from in %s, no answer to a ping)", rec.Node, unknownNodeGrace)
					}
					return
				}
			}
		}
		why, wstop := reg.WatchLost(rec.Node, rec.Instance)
		defer wstop()
		select {
		case w := <-why:
			ch <- w
		case <-ctx.Done():
		}
	}()
	return ch, func() { cancel(); <-done }
}
