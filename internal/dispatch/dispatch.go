// Package dispatch is the front end's NATS executor: it offers a task to one
// worker and sees it through. It publishes the task, waits for the node's
// ack, and says why the node did not take it (no ack in time, busy,
// draining, gone) so that the front end may try the next one; after an ack
// it follows the task's output to its result, or reports the node lost when
// it stops heartbeating.
//
// After an ack a task is never re-run on another node: that would risk
// running it twice.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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

// ErrClosed ends an offer or a following in progress when the dispatcher
// is closed: the task may run on, unfollowed.
var ErrClosed = errors.New("dispatcher closed")

// syncKind marks the message a dispatcher sends itself through a task's
// inbox; syncTimeout bounds the wait for it.
const (
	syncKind    = "sync"
	syncTimeout = 5 * time.Second
)

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

// Dispatcher offers tasks to workers and follows them. It is safe for
// concurrent use.
type Dispatcher struct {
	cfg  Config
	nc   *nats.Conn
	subj subjects.Space
	reg  *registry.Registry
	mux  *mux
	log  *slog.Logger

	closed    chan struct{} // closed by Close: offers and followings end
	closeOnce sync.Once
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
	return &Dispatcher{cfg: cfg, nc: nc, subj: *cfg.Subjects, reg: reg, mux: m, log: cfg.Logger, closed: make(chan struct{})}, nil
}

// Close stops receiving replies: offers and followings in progress end
// with ErrClosed (a task a node took runs on). Safe to call twice.
func (d *Dispatcher) Close() error {
	var err error
	d.closeOnce.Do(func() {
		close(d.closed)
		err = d.mux.stop()
	})
	return err
}

// Execute offers task to the worker node and, once it accepted, follows the
// task to its end: it is the NATS executor of frontend.Executor. The task
// goes to the node's subject for the task's first required capability
// ("any" if none): a node subscribes once per capability it has.
//
// When the node does not take the task the error is a *wire.Declined:
// wire.ErrNotStarted (busy, draining, gone, no ack in time: another node may
// be tried) or wire.ErrNodeRefused (by policy: another would refuse too,
// with the node's refusal as the Result when it sent one); ctx's error if
// ctx ended first, ErrClosed if the dispatcher was closed. Once the node accepted (h.OnAccepted), the error is nil
// and the Result is the node's own: it says how the task ended (exit code,
// timeout, cancelled ...), and the node also published it to the task's
// ResultTo. When the node instead goes silent (lost, no result in time, a
// cancel it did not confirm) the error is wire.ErrUnconfirmed and the
// Result is this front end's account of the end. When h.Detach closes
// first, the Result is nil and the task runs on; when the dispatcher is
// closed, too, with ErrClosed.
func (d *Dispatcher) Execute(ctx context.Context, task *wire.Task, node *registry.Node, h wire.Hooks) (*wire.Result, error) {
	in := d.mux.open()
	defer d.mux.close(in)
	ack, res, why, err := d.offer(ctx, task, node, in)
	switch {
	case ack != nil:
		if h.OnAccepted != nil {
			h.OnAccepted(ack.Instance)
		}
		if ack.Queued != "" && h.OnProgress != nil {
			h.OnProgress(&wire.Progress{ID: task.ID, Node: node.Node, State: wire.ProgressWaiting, Reason: ack.Queued, At: time.Now()})
		}
		return d.follow(ctx, task, node.Node, ack, in, h)
	case err != nil: // ctx ended
		return nil, err
	case res != nil: // the node answered with a final result: it cannot run this
		return res, &wire.Declined{Node: node.Node, Reason: res.Message, Final: true}
	}
	d.log.Debug("declined", "task", task.ID, "node", node.Node, "why", why.text)
	return nil, &wire.Declined{Node: node.Node, Reason: why.text, Final: why.final}
}

// declined is why a node did not take a task.
type declined struct {
	text  string
	final bool // another node would refuse it too
}

// offer publishes task to node and waits for its first answer. Exactly one
// of ack, res, a non-empty why, or err is set.
func (d *Dispatcher) offer(ctx context.Context, task *wire.Task, node *registry.Node, in *inbox) (*wire.Ack, *wire.Result, declined, error) {
	capability := subjects.AnyCapability
	if len(task.Requires.Capabilities) > 0 {
		capability = task.Requires.Capabilities[0]
	}
	subj, err := d.subj.Task(node.OS, node.Arch, capability, node.Node)
	if err != nil {
		return nil, nil, declined{text: err.Error()}, nil
	}
	msg, err := wire.NewMsg(subj, task)
	if err != nil {
		return nil, nil, declined{text: err.Error(), final: true}, nil
	}
	msg.Reply = in.reply
	wire.SetAckBy(msg, d.ackBy(node.Node))
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
			d.sendCancel(node.Node, task.ID, offer, "no ack in time; the task went elsewhere")
			return nil, nil, declined{text: fmt.Sprintf("no ack within %s", d.cfg.AckTimeout)}, nil
		case <-ctx.Done():
			d.sendCancel(node.Node, task.ID, offer, "submitter gave up")
			return nil, nil, declined{}, ctx.Err()
		case <-d.closed:
			d.sendCancel(node.Node, task.ID, offer, "the front end shut down")
			return nil, nil, declined{}, ErrClosed
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

// follow waits for the result of an accepted task, passing output on. The
// result is the node's (nil error), or this front end's account of an end
// the node did not report (wire.ErrUnconfirmed), or nil when detached.
func (d *Dispatcher) follow(ctx context.Context, task *wire.Task, node string, ack *wire.Ack, in *inbox, hooks wire.Hooks) (*wire.Result, error) {
	var lost <-chan string
	if d.reg != nil {
		if _, known := d.reg.Get(node); known {
			var stop func()
			lost, stop = d.reg.WatchLost(node, ack.Instance)
			defer stop()
		}
	}
	// The task's timeout runs from its start: a wait for its locks does
	// not count.
	var deadline <-chan time.Time
	deadlineTimer := time.NewTimer(time.Hour)
	deadlineTimer.Stop()
	defer deadlineTimer.Stop()
	arm := func() {
		if task.Timeout > 0 && deadline == nil {
			deadlineTimer.Reset(task.Timeout.D() + d.cfg.ResultGrace)
			deadline = deadlineTimer.C
		}
	}
	if len(task.Locks) == 0 {
		arm()
	}
	feed := d.newInput(task, hooks)
	defer feed.stop()
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
				return unconfirmed(task, node, wire.ErrNodeLost, lostWhy)
			case wire.KindProgress:
				if progress(m, hooks) {
					arm()
				}
			case wire.KindInputWant:
				feed.want(m)
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
					return unconfirmed(task, node, wire.ErrNodeLost, "undecodable result: "+err.Error())
				}
				return &r, nil
			}
		case why := <-lost:
			// The heartbeat that says so may overtake the node's last
			// messages, which come on another subscription: send a marker
			// through this inbox and trust the loss only once it is back.
			lost, lostWhy = nil, why
			if err := d.nc.PublishMsg(&nats.Msg{Subject: in.reply, Header: nats.Header{wire.HeaderKind: []string{syncKind}}}); err != nil {
				return unconfirmed(task, node, wire.ErrNodeLost, why)
			}
			tm := time.NewTimer(syncTimeout)
			defer tm.Stop()
			syncWait = tm.C
		case <-syncWait:
			return unconfirmed(task, node, wire.ErrNodeLost, lostWhy)
		case <-deadline:
			return unconfirmed(task, node, wire.ErrNodeLost, fmt.Sprintf("no result from node %s within the task's timeout plus %s", node, d.cfg.ResultGrace))
		case <-done:
			done = nil
			d.sendCancel(node, task.ID, "", "cancelled by the submitter")
			tm := time.NewTimer(d.cfg.CancelGrace)
			defer tm.Stop()
			cancelWait = tm.C
		case <-cancelWait:
			return unconfirmed(task, node, wire.ErrCancelled, fmt.Sprintf("cancel sent to node %s, which did not confirm within %s", node, d.cfg.CancelGrace))
		case <-hooks.Detach:
			return nil, nil
		case <-d.closed:
			return nil, fmt.Errorf("%w: stopped following task %s on %s", ErrClosed, task.ID, node)
		}
	}
}

// unconfirmed is this front end's account of how a task ended that its
// node did not report: kind node_lost or cancelled, with why.
func unconfirmed(task *wire.Task, node string, kind wire.ErrorKind, msg string) (*wire.Result, error) {
	res := &wire.Result{V: wire.Version, ID: task.ID, Node: node, ExitCode: -1, Error: kind, Message: msg}
	return res, fmt.Errorf("%w: %s", wire.ErrUnconfirmed, msg)
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
