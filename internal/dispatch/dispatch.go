// Package dispatch sends a task to a node and sees it through: it publishes
// the task, waits for the node's ack, falls through to the next candidate on
// no ack, busy or no responders, and after an ack follows the task's output
// to its result, or reports the node lost when it stops heartbeating.
//
// After an ack a task is never re-run on another node by the dispatcher:
// that would risk running it twice.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/subjects"
)

// Defaults for Config fields left zero.
const (
	DefaultAckTimeout  = 3 * time.Second
	DefaultCancelGrace = 10 * time.Second
	// DefaultResultGrace is how long past a task's own timeout the
	// dispatcher waits for a result before calling the node lost.
	DefaultResultGrace = 30 * time.Second
)

// syncKind marks the message a dispatcher sends itself through a task's
// inbox; syncTimeout bounds the wait for it.
const (
	syncKind    = "sync"
	syncTimeout = 5 * time.Second
)

// Errors from Dispatch, wrapped with what happened at each node.
var (
	// ErrUnavailable: no candidate accepted the task; it did not run.
	ErrUnavailable = errors.New("no node accepted the task")
	// ErrRejected: a node refused the task by policy; another would too.
	ErrRejected = errors.New("task refused")
)

// Target is a node to try, and the capability token of the subject to
// publish on (a node subscribes once per capability; "any" always works).
type Target struct {
	Node       string
	OS, Arch   string
	Capability string
}

// Hooks observe a dispatch. Each may be nil. They are called from the
// dispatching goroutine, in order, and should not block for long: a slow
// OnOutput slows the node's command through flow control.
type Hooks struct {
	// OnAccepted is called when a node acks the task, with the node's id
	// and its instance (which changes when the node restarts).
	OnAccepted func(node, instance string)
	// OnOutput receives streamed output.
	OnOutput func(stream wire.Stream, data []byte)
	// OnDeclined is called for each node that did not take the task.
	OnDeclined func(node, why string)
	// Detach, when closed, stops the following of an accepted task: Dispatch
	// returns with a nil Result and the task runs on (its result still goes
	// to the task's ResultTo). A front end closes it when it shuts down.
	Detach <-chan struct{}
}

// Outcome is how a dispatch ended.
type Outcome struct {
	// Result is the task's result; nil if it never started.
	Result *wire.Result
	// Node is the node that accepted the task ("" if none).
	Node string
	// Declined lists the nodes tried before, with why each did not take it.
	Declined []string
}

// Config configures a Dispatcher.
type Config struct {
	// Subjects is the subject space; default subjects.Default().
	Subjects *subjects.Space
	// AckTimeout is how long a node has to ack (default 3 s). No ack in
	// time means the task never started there.
	AckTimeout time.Duration
	// CancelGrace is how long to wait for a cancelled task's result
	// (default 10 s).
	CancelGrace time.Duration
	// ResultGrace is added to a task's timeout before giving up on its
	// result (default 30 s).
	ResultGrace time.Duration
	// Logger receives the dispatcher's log; default discards.
	Logger *slog.Logger
}

// Dispatcher sends tasks to nodes. It is safe for concurrent use.
type Dispatcher struct {
	cfg  Config
	nc   *nats.Conn
	subj subjects.Space
	reg  *registry.Registry
	mux  *mux
	log  *slog.Logger
}

// New returns a Dispatcher publishing on nc. reg, if not nil, tells it when
// a node that accepted a task is lost.
func New(nc *nats.Conn, reg *registry.Registry, cfg Config) (*Dispatcher, error) {
	if cfg.Subjects == nil {
		s := subjects.Default()
		cfg.Subjects = &s
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	if cfg.CancelGrace <= 0 {
		cfg.CancelGrace = DefaultCancelGrace
	}
	if cfg.ResultGrace <= 0 {
		cfg.ResultGrace = DefaultResultGrace
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMux(nc)
	if err != nil {
		return nil, err
	}
	return &Dispatcher{cfg: cfg, nc: nc, subj: *cfg.Subjects, reg: reg, mux: m, log: cfg.Logger}, nil
}

// Close stops receiving replies. Dispatches in progress end with errors.
func (d *Dispatcher) Close() error { return d.mux.stop() }

// Dispatch offers task to targets in order until one accepts, then follows
// it to its result. With detach, it returns as soon as a node accepts
// (Outcome.Result is nil): the node still publishes the result to
// task.ResultTo.
//
// The error is ErrUnavailable or ErrRejected when the task did not run,
// ctx's error if ctx ended before any node accepted; once a node accepts,
// the error is nil and the Result says how the task ended (node_lost,
// cancelled, timeout ...).
func (d *Dispatcher) Dispatch(ctx context.Context, task *wire.Task, targets []Target, detach bool, hooks Hooks) (*Outcome, error) {
	out := &Outcome{}
	for _, t := range targets {
		in := d.mux.open()
		ack, res, why, err := d.offer(ctx, task, t, in)
		if ack != nil {
			out.Node = t.Node
			if hooks.OnAccepted != nil {
				hooks.OnAccepted(t.Node, ack.Instance)
			}
			if !detach {
				out.Result = d.follow(ctx, task, t, ack, in, hooks)
			}
			d.mux.close(in)
			return out, nil
		}
		d.mux.close(in)
		switch {
		case err != nil: // ctx ended
			return out, err
		case res != nil: // the node answered with a final result: it cannot run this
			out.Result = res
			return out, fmt.Errorf("%w by %s: %s", ErrRejected, t.Node, res.Message)
		case why.final:
			out.Declined = append(out.Declined, t.Node+": "+why.text)
			return out, fmt.Errorf("%w by %s: %s", ErrRejected, t.Node, why.text)
		default:
			out.Declined = append(out.Declined, t.Node+": "+why.text)
			if hooks.OnDeclined != nil {
				hooks.OnDeclined(t.Node, why.text)
			}
			d.log.Debug("declined", "task", task.ID, "node", t.Node, "why", why.text)
		}
	}
	return out, Unavailable(out.Declined)
}

// Unavailable is the error of a task that no candidate took: ErrUnavailable,
// with why each declined.
func Unavailable(declined []string) error {
	if len(declined) == 0 {
		return fmt.Errorf("%w: no candidate to try", ErrUnavailable)
	}
	return fmt.Errorf("%w: %s", ErrUnavailable, strings.Join(declined, "; "))
}

// declined is why a node did not take a task.
type declined struct {
	text  string
	final bool // another node would refuse it too
}

// offer publishes task to one target and waits for its first answer.
// Exactly one of ack, res, a non-empty why, or err is set.
func (d *Dispatcher) offer(ctx context.Context, task *wire.Task, t Target, in *inbox) (*wire.Ack, *wire.Result, declined, error) {
	subj, err := d.subj.Task(t.OS, t.Arch, t.Capability, t.Node)
	if err != nil {
		return nil, nil, declined{text: err.Error()}, nil
	}
	msg, err := wire.NewMsg(subj, task)
	if err != nil {
		return nil, nil, declined{text: err.Error(), final: true}, nil
	}
	msg.Reply = in.reply
	wire.SetAckBy(msg, d.ackBy(t.Node))
	offer := in.token
	wire.SetOffer(msg, offer)
	if err := d.nc.PublishMsg(msg); err != nil {
		return nil, nil, declined{text: "publish: " + err.Error(), final: errors.Is(err, nats.ErrMaxPayload)}, nil
	}
	timer := time.NewTimer(d.cfg.AckTimeout)
	defer timer.Stop()
	for {
		select {
		case m := <-in.ch:
			if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
				return nil, nil, declined{text: "no responders (node gone)"}, nil
			}
			switch wire.KindOf(m) {
			case wire.KindAck:
				var a wire.Ack
				if err := wire.Decode(m, &a); err != nil {
					return nil, nil, declined{text: "bad ack: " + err.Error()}, nil
				}
				switch a.Status {
				case wire.AckAccepted:
					return &a, nil, declined{}, nil
				case wire.AckRejected:
					return nil, nil, declined{text: a.Reason, final: a.Error != wire.ErrMismatch}, nil
				default: // busy, draining
					return nil, nil, declined{text: string(a.Status) + ": " + a.Reason}, nil
				}
			case wire.KindResult:
				var r wire.Result
				if err := wire.Decode(m, &r); err != nil {
					return nil, nil, declined{text: "bad result: " + err.Error()}, nil
				}
				return nil, &r, declined{}, nil
			}
			// Anything else before an ack is ignored.
		case <-timer.C:
			// The task may yet arrive late at the node: cancel it there
			// first, so it can never run as well as on the next node.
			d.sendCancel(t.Node, task.ID, offer, "no ack in time; the task went elsewhere")
			return nil, nil, declined{text: fmt.Sprintf("no ack within %s", d.cfg.AckTimeout)}, nil
		case <-ctx.Done():
			d.sendCancel(t.Node, task.ID, offer, "submitter gave up")
			return nil, nil, declined{}, ctx.Err()
		}
	}
}

// ackMarginDiv sets how much of the ack timeout is kept back from the node's
// ack deadline (a quarter): room for the ack to travel back and be read
// before the front end gives up on the node.
const ackMarginDiv = 4

// ackBy is the ack deadline of a task offered to node now, in the node's
// clock as far as the registry knows it. A node that reads the task later
// refuses it (wire.AckLate): it was stopped or cut off with the task in its
// connection, and by then the task has gone to another node.
func (d *Dispatcher) ackBy(node string) time.Time {
	by := time.Now().Add(d.cfg.AckTimeout - d.cfg.AckTimeout/ackMarginDiv)
	if d.reg != nil {
		if n, ok := d.reg.Get(node); ok {
			by = by.Add(n.ClockOffset)
		}
	}
	return by
}

// follow waits for the result of an accepted task, passing output on.
func (d *Dispatcher) follow(ctx context.Context, task *wire.Task, t Target, ack *wire.Ack, in *inbox, hooks Hooks) *wire.Result {
	var lost <-chan string
	if d.reg != nil {
		if _, known := d.reg.Get(t.Node); known {
			var stop func()
			lost, stop = d.reg.WatchLost(t.Node, ack.Instance)
			defer stop()
		}
	}
	var deadline <-chan time.Time
	if task.Timeout > 0 {
		tm := time.NewTimer(task.Timeout.D() + d.cfg.ResultGrace)
		defer tm.Stop()
		deadline = tm.C
	}
	done := ctx.Done()
	var cancelWait, syncWait <-chan time.Time
	lostWhy := ""
	var c wire.Chunk // reused: its data aliases each message in turn
	for {
		select {
		case m := <-in.ch:
			switch wire.KindOf(m) {
			case syncKind:
				// Everything sent to this inbox before the node was seen
				// lost has been read: there is no result coming.
				return lostResult(task, t.Node, wire.ErrNodeLost, lostWhy)
			case wire.KindChunk:
				if err := wire.DecodeChunkReusing(m, &c); err == nil && hooks.OnOutput != nil {
					hooks.OnOutput(c.Stream, c.Data)
				}
				if m.Reply != "" {
					_ = m.Respond(nil) // credit: we have consumed up to here
				}
			case wire.KindResult:
				var r wire.Result
				if err := wire.Decode(m, &r); err != nil {
					return lostResult(task, t.Node, wire.ErrNodeLost, "undecodable result: "+err.Error())
				}
				return &r
			}
		case why := <-lost:
			// The heartbeat that says so may overtake the node's last
			// messages, which come on another subscription: send a marker
			// through this inbox and trust the loss only once it is back.
			lost, lostWhy = nil, why
			if err := d.nc.PublishMsg(&nats.Msg{Subject: in.reply, Header: nats.Header{wire.HeaderKind: []string{syncKind}}}); err != nil {
				return lostResult(task, t.Node, wire.ErrNodeLost, why)
			}
			tm := time.NewTimer(syncTimeout)
			defer tm.Stop()
			syncWait = tm.C
		case <-syncWait:
			return lostResult(task, t.Node, wire.ErrNodeLost, lostWhy)
		case <-deadline:
			return lostResult(task, t.Node, wire.ErrNodeLost, fmt.Sprintf("no result from node %s within the task's timeout plus %s", t.Node, d.cfg.ResultGrace))
		case <-done:
			done = nil
			d.sendCancel(t.Node, task.ID, "", "cancelled by the submitter")
			tm := time.NewTimer(d.cfg.CancelGrace)
			defer tm.Stop()
			cancelWait = tm.C
		case <-cancelWait:
			return lostResult(task, t.Node, wire.ErrCancelled, fmt.Sprintf("cancel sent to node %s, which did not confirm within %s", t.Node, d.cfg.CancelGrace))
		case <-hooks.Detach:
			return nil
		}
	}
}

func lostResult(task *wire.Task, node string, kind wire.ErrorKind, msg string) *wire.Result {
	return &wire.Result{V: wire.Version, ID: task.ID, Node: node, ExitCode: -1, Error: kind, Message: msg}
}

// Cancel asks node to cancel task id and waits for its answer.
func (d *Dispatcher) Cancel(ctx context.Context, node, id, reason string) error {
	subj, err := d.subj.Cancel(node)
	if err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	msg, err := wire.NewMsg(subj, &wire.Cancel{ID: id, Reason: reason})
	if err != nil {
		return err
	}
	reply, err := d.nc.RequestMsgWithContext(ctx, msg)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return fmt.Errorf("cancel %s on %s: node is not connected", id, node)
		}
		return fmt.Errorf("cancel %s on %s: %w", id, node, err)
	}
	var a wire.Ack
	if err := wire.Decode(reply, &a); err != nil {
		return fmt.Errorf("cancel %s on %s: %w", id, node, err)
	}
	if a.Status != wire.AckAccepted {
		return fmt.Errorf("cancel %s on %s: %s", id, node, a.Reason)
	}
	return nil
}

// sendCancel cancels task id on node: only the given offer of it, when
// offer is not empty.
func (d *Dispatcher) sendCancel(node, id, offer, reason string) {
	subj, err := d.subj.Cancel(node)
	if err != nil {
		return
	}
	msg, err := wire.NewMsg(subj, &wire.Cancel{ID: id, Reason: reason, Offer: offer})
	if err == nil {
		err = d.nc.PublishMsg(msg)
	}
	if err != nil {
		d.log.Warn("cancel", "node", node, "task", id, "err", err)
	}
}
