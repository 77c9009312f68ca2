package wire

import (
	"errors"
	"fmt"
	"io"
)

// OutputFunc receives a task's output as it streams: on a node from the
// running command, on a front end from the node or the SSH session. p is
// valid only during the call. Calls for stdout and stderr may overlap where
// a caller documents so; a slow OutputFunc slows the command down (flow
// control), it never loses output.
type OutputFunc func(stream Stream, p []byte)

// Hooks follow one task on one node, whichever way the node is reached
// (frontend.Executor). Each may be nil. They are called from the executor's
// goroutine, in order, and should not block for long.
type Hooks struct {
	// OnAccepted is called once the node has taken the task, before any of
	// its output, with the node's instance (which changes when a worker
	// restarts; "" for a machine reached over SSH).
	OnAccepted func(instance string)
	// OnOutput receives the task's output as it streams.
	OnOutput OutputFunc
	// Detach, when closed, ends the following of a task the node took: the
	// executor returns a nil Result and the task runs on (a worker still
	// records its result at the task's ResultTo). A front end closes it
	// when it shuts down. A task over SSH lives only as long as the front
	// end that runs it, and ignores Detach.
	Detach <-chan struct{}
	// OnProgress is told how far a task the node took got before its end:
	// waiting (for its locks: the reason says for what), then started.
	// Only workers send it, and only for tasks that wait before starting.
	OnProgress func(*Progress)
	// Stdin is the standard input of a task with StdinStream: the executor
	// feeds it to the node as the node asks for it. SignInput, if set,
	// signs each piece (a signed task's input must be).
	Stdin     io.Reader
	SignInput func(*Input) error
}

// The errors of running a task on one node, whichever executor ran it. They
// say what the front end may do next; test for them with errors.Is.
var (
	// ErrNotStarted: the node did not take the task (busy, draining, gone,
	// unreachable, no ack in time): it never ran there, and another node
	// may safely be tried.
	ErrNotStarted = errors.New("no node accepted the task")
	// ErrNodeRefused: the node refused the task by policy (the command
	// guard, a signature): another node would refuse it too.
	ErrNodeRefused = errors.New("task refused")
	// ErrUnconfirmed: the node took the task and then never said how it
	// ended (it stopped heartbeating, restarted, sent no result in time,
	// or did not confirm a cancel). The result that comes with this error
	// is the front end's own account of the end, which no node records.
	ErrUnconfirmed = errors.New("the node did not report how the task ended")
)

// Declined is why one node did not take a task. It is ErrNotStarted (try
// another node) or, when Final, ErrNodeRefused (another would refuse too),
// and also Err when there is an underlying error (an SSH dial error, say).
type Declined struct {
	// Node is the node that declined.
	Node string
	// Reason says why, for people: "busy: 4 of 4 slots taken".
	Reason string
	// Final is set when the node refused the task by policy.
	Final bool
	// Err is the underlying error, if any.
	Err error
}

// Error reads "n1: busy: ..." (the task may go elsewhere) or "task refused
// by n1: ..." (it may not).
func (d *Declined) Error() string {
	if d.Final {
		return fmt.Sprintf("%v by %s: %s", ErrNodeRefused, d.Node, d.Reason)
	}
	return d.Node + ": " + d.Reason
}

// Unwrap gives the kind (ErrNotStarted or ErrNodeRefused) and Err.
func (d *Declined) Unwrap() []error {
	kind := ErrNotStarted
	if d.Final {
		kind = ErrNodeRefused
	}
	if d.Err == nil {
		return []error{kind}
	}
	return []error{kind, d.Err}
}
