package frontend

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/router"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
)

// Retry says when a task is run again: up to Times more times, each time an
// attempt ends in one of the kinds in On, and then only when the rule of
// that kind allows it (retryRules). The zero value never retries: a task
// runs at most once unless its submitter says otherwise.
type Retry struct {
	Times int
	On    []wire.ErrorKind
}

// attemptEnd is what is known of how an attempt ended, for the rules.
type attemptEnd struct {
	// accepted: a node took the task (it may have started it).
	accepted bool
	// keyed: the task has an idempotency key.
	keyed bool
	// fed: some of its streamed standard input was read, which cannot be
	// read again.
	fed bool
}

// retryRules are the kinds a task may be retried on, each with when an
// attempt that ended so may run again. An attempt no node accepted never
// ran; one its node lost may have run in part, which the submitter accepted
// by asking for it. What was read of streamed input cannot be sent again.
var retryRules = map[wire.ErrorKind]func(attemptEnd) bool{
	wire.ErrNodeLost: func(a attemptEnd) bool { return !a.fed },
	wire.ErrBusy:     func(a attemptEnd) bool { return !a.accepted },
	// The node shut down while the task waited for its locks: it never
	// started there.
	wire.ErrDraining: func(a attemptEnd) bool { return !a.fed },
	// The kinds of an unreachable hub or an end nobody can vouch for go
	// here, each with neverAcceptedOrKeyed: a retry only when the task was
	// provably never accepted, or under an idempotency key, whose claim
	// then finds the first attempt's record.
}

// neverAcceptedOrKeyed is the rule of the kinds that leave it unknown
// whether the task ran.
func neverAcceptedOrKeyed(a attemptEnd) bool { return !a.accepted || a.keyed }

// RetryKinds returns the kinds a task may be retried on, sorted.
func RetryKinds() []string {
	var out []string
	for k := range retryRules {
		out = append(out, string(k))
	}
	slices.Sort(out)
	return out
}

// ParseRetryOn reads a list of retryable kinds ("node_lost,busy").
func ParseRetryOn(kinds []string) ([]wire.ErrorKind, error) {
	var out []wire.ErrorKind
	for _, k := range kinds {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if _, ok := retryRules[wire.ErrorKind(k)]; !ok {
			return nil, fmt.Errorf("cannot retry on %q: a task is retried only on %s (never on an exit code or a timeout)", k, strings.Join(RetryKinds(), ", "))
		}
		if !slices.Contains(out, wire.ErrorKind(k)) {
			out = append(out, wire.ErrorKind(k))
		}
	}
	return out, nil
}

// Validate checks the retry policy.
func (r Retry) Validate() error {
	if r.Times < 0 {
		return fmt.Errorf("retries %d: want 0 or more", r.Times)
	}
	if r.Times > 0 && len(r.On) == 0 {
		return fmt.Errorf("retries %d with nothing to retry on: name the kinds (%s)", r.Times, strings.Join(RetryKinds(), ", "))
	}
	for _, k := range r.On {
		if _, ok := retryRules[k]; !ok {
			return fmt.Errorf("cannot retry on %q: a task is retried only on %s", k, strings.Join(RetryKinds(), ", "))
		}
	}
	return nil
}

// again decides whether the attempt that just ended (out, err) runs once
// more, and if so records it as an attempt and readies out for the next:
// the nodes it went to are tried last (elsewhere if possible).
func (s *Service) again(ctx context.Context, req *Request, h *hooks, out *Outcome, err error, tries *[]string) bool {
	if len(*tries) >= req.Retry.Times {
		return false
	}
	kind, msg := wire.ErrorKind(""), ""
	switch {
	case err == nil && out.Result != nil:
		kind, msg = out.Result.Error, out.Result.Message
	case err != nil:
		kind, msg = ErrorKind(err), err.Error()
		if errors.Is(err, wire.ErrNotStarted) {
			kind = wire.ErrBusy // every node offered declined: none took it
		}
	}
	if kind == wire.ErrNone || !slices.Contains(req.Retry.On, kind) {
		return false
	}
	end := attemptEnd{accepted: out.Node != "", keyed: req.Key != "", fed: h.fed != nil && h.fed()}
	if !retryRules[kind](end) {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return false
	}
	a := tasks.Attempt{Node: out.Node, At: time.Now(), Error: kind, Message: msg}
	*tries = append(*tries, out.Node)
	s.log.Info("retrying", "task", req.ID, "attempt", len(*tries)+1, "after", kind, "node", out.Node)
	if h.retried != nil {
		h.retried(a)
	}
	out.Node, out.Result, out.Recorded = "", nil, false
	if kind == wire.ErrBusy {
		t := time.NewTimer(retryBackoff)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// avoid moves the nodes earlier attempts went to to the end of the
// decision's order, keeping the router's count on the node tried first.
func (s *Service) avoid(d *router.Decision, tries []string) {
	if len(tries) == 0 || len(d.Order) < 2 {
		return
	}
	first := d.Order[0].Node
	slices.SortStableFunc(d.Order, func(a, b registry.Node) int {
		ta, tb := slices.Contains(tries, a.Node), slices.Contains(tries, b.Node)
		switch {
		case ta == tb:
			return 0
		case ta:
			return 1
		}
		return -1
	})
	if now := d.Order[0].Node; now != first {
		s.rt.Release(first)
		s.rt.Acquire(now)
	}
}
