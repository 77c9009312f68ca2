package frontend

import (
	"context"
	"errors"
	"fmt"

	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
)

// Status is what is known of a task.
type Status struct {
	Record tasks.Record
	// State is the state to show (a result overrides the record's).
	State tasks.State
	// Result is the final result, once there is one.
	Result *wire.Result
	// SoFar is the output so far of a running task this front end follows.
	SoFar *wire.Result
	// Live is set when this front end follows the task.
	Live bool
	// Matched is set by Wait when its pattern matched.
	Matched bool
	// Note says more about the state, for people ("node n1 restarted ...").
	Note string
	// Declined lists the nodes that did not take the task before one did
	// (or none did), with why: known to the front end that placed it.
	Declined []string
	// Attached is set when the request's idempotency key named this task,
	// submitted before: it was not run again.
	Attached bool
}

// Running reports whether the task has not ended yet.
func (st *Status) Running() bool { return !st.State.Final() }

// statusOf returns the status of a task this front end follows, and the
// error that kept it from running, if one did.
func statusOf(l *live) (*Status, error) {
	rec, res, sofar, err := l.snapshot()
	st := &Status{Record: rec, Result: res, Live: true, State: tasks.StateOf(&rec, res), Declined: l.declinedList()}
	if res == nil && !rec.State.Final() {
		st.SoFar = sofar
	}
	return st, err
}

// Status returns what is known of task id: from memory for a task this front
// end follows, otherwise from the records, checked against the live cluster
// (a task whose node restarted or stopped heartbeating is shown lost).
func (s *Service) Status(ctx context.Context, id string) (*Status, error) {
	if l := s.lookup(id); l != nil {
		st, _ := statusOf(l)
		return st, nil
	}
	rec, res, err := s.store.Get(ctx, id)
	if err != nil {
		if errors.Is(err, tasks.ErrNotFound) {
			return nil, fmt.Errorf("%w %s (records are kept in %s)", ErrUnknownTask, id, s.store.Backend())
		}
		return nil, err
	}
	st := &Status{Record: *rec, Result: res, State: tasks.StateOf(rec, res)}
	if res == nil && rec.State == tasks.StateQueued && len(rec.Locks) > 0 && rec.Node != "" {
		s.lockState(ctx, st)
	}
	if res == nil && (st.State == tasks.StateRunning || st.State == tasks.StateQueued) && rec.Node != "" {
		s.checkNode(st)
	}
	return st, nil
}

// checkNode looks at the node of a running task someone else follows.
func (s *Service) checkNode(st *Status) {
	n, ok := s.reg.Get(st.Record.Node)
	switch {
	case !ok || n.Via != wire.ViaNATS:
		st.Note = fmt.Sprintf("node %s is not heartbeating to this front end", st.Record.Node)
	case st.Record.Instance != "" && n.Instance != st.Record.Instance:
		st.State = tasks.StateLost
		st.Note = fmt.Sprintf("node %s restarted after accepting the task; it died with the old instance", n.Node)
	case n.Health == registry.HealthStale || n.Health == registry.HealthLeaving:
		st.State = tasks.StateLost
		st.Note = fmt.Sprintf("node %s is %s", n.Node, n.Health)
	}
}
