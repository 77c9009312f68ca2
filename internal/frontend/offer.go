package frontend

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fabric-run/fabric/internal/router"
	"github.com/fabric-run/fabric/internal/wire"
)

// Outcome is how one task's run on the cluster ended, as the front end saw
// it: the one account of a run, whichever executor ran it.
type Outcome struct {
	// Decision is the last placement decision.
	Decision *router.Decision
	// Node is where the task ran ("" if it did not).
	Node string
	// Result is how the task ended; nil if it did not run, or when the
	// front end stopped following it (shutting down) and it runs on.
	Result *wire.Result
	// Recorded says the node that ran the task recorded Result itself (a
	// worker publishes it to the task's ResultTo); otherwise the front end
	// records it (a run over SSH, an end the node never reported).
	Recorded bool
	// Declined lists the nodes that did not take the task, with why.
	Declined []string
}

// offer is the front end's one fall-through loop: it offers task to the
// decision's nodes in order, each through the executor of its kind, until
// one takes it, and fills out with how the task ended. A node that did not
// take the task (wire.ErrNotStarted) is passed over for the next; a refusal
// by policy (wire.ErrNodeRefused) or an ended ctx stops the loop; once a
// node took the task its result is the outcome, and no other node is tried:
// that would risk running it twice. When every node declined, the error is
// wire.ErrNotStarted listing why each did.
//
// The router counted the task against the first node (Place); offer moves
// the count to the node that took it, and releases it when the task ends.
func (s *Service) offer(ctx context.Context, task *wire.Task, d *router.Decision, h *hooks, out *Outcome) error {
	placed := d.Order[0].Node
	defer func() { s.released(placed) }()
	for i := range d.Order {
		n := &d.Order[i]
		ex := s.executors[n.Via]
		if ex == nil {
			out.Declined = append(out.Declined, fmt.Sprintf("%s: no executor reaches it via %q", n.Node, n.Via))
			continue
		}
		res, err := ex.Execute(ctx, task, n, wire.Hooks{
			OnAccepted: func(instance string) {
				if n.Node != placed {
					s.rt.Release(placed)
					s.rt.Acquire(n.Node)
					placed = n.Node
				}
				out.Node = n.Node
				if h.accepted != nil {
					h.accepted(n, instance)
				}
			},
			OnOutput:   h.output,
			Detach:     s.detach,
			OnProgress: h.progress,
			Stdin:      h.stdin,
			SignInput:  s.cfg.SignInput,
		})
		var declined *wire.Declined
		switch {
		case err == nil || errors.Is(err, wire.ErrUnconfirmed):
			out.Node, out.Result = n.Node, res
			out.Recorded = err == nil && n.Via == wire.ViaNATS
			if res != nil && n.Via == wire.ViaNATS {
				// It ended: the node's last heartbeat may still count it.
				s.reg.Finished(n.Node, task.ID)
			}
			return nil
		case errors.As(err, &declined):
			out.Declined = append(out.Declined, declined.Node+": "+declined.Reason)
			if declined.Final {
				out.Result = res // the node's refusal, if it sent one
				return err
			}
			if h.declined != nil {
				h.declined(n.Node, declined.Reason)
			}
			if ctx.Err() != nil {
				return notStarted(out.Declined)
			}
		default: // ctx ended before the node answered
			return err
		}
	}
	return notStarted(out.Declined)
}

// notStarted is the error of a task that no node took: wire.ErrNotStarted,
// with why each declined.
func notStarted(declined []string) error {
	if len(declined) == 0 {
		return fmt.Errorf("%w: no candidate to try", wire.ErrNotStarted)
	}
	return fmt.Errorf("%w: %s", wire.ErrNotStarted, strings.Join(declined, "; "))
}
