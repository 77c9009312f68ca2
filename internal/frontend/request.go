package frontend

import (
	"io"

	"github.com/fabric-run/fabric/internal/wire"
)

// Request is a command to run on the cluster: the task as it goes to the
// node, plus what only the front end acts on. The service fills in the
// task's id (when empty), timeout (when zero), submission time and the
// subjects its result and output also go to.
type Request struct {
	// Task is what the node runs: the command (or argv), cwd, environment,
	// timeout, output limit and explicit requirements (os, arch,
	// capabilities, node). ResultTo is set to the record store's result
	// subject when it has one.
	wire.Task
	// Batch turns local preference off, so a batch spreads.
	Batch bool
	// NoWait fails at once when every matching node is busy, instead of
	// waiting for a free slot.
	NoWait bool
	// Background marks the record of a task submitted without waiting for
	// it (MCP background, fabric submit).
	Background bool
	// Unattended says the submitter may be gone before the task ends: only
	// workers, which record their own results, qualify (a task over SSH
	// lives only as long as the front end that runs it).
	Unattended bool
	// Retry re-runs the task when it ends in one of the kinds it names;
	// the zero value never does (see retry.go).
	Retry Retry
	// Key is an idempotency key: a request with the key of a task already
	// recorded (within the records' lifetime) attaches to that task,
	// running or finished, instead of starting another (Status.Attached).
	Key string
	// Input is the standard input of a task with StdinStream set, streamed
	// to its node as the node asks for it (Task.Stdin is input sent with
	// the task itself).
	Input io.Reader
}

// RunOption is an optional setting of one Run.
type RunOption func(*live)

// OnAccepted has Run call f once a node has accepted the task and its record
// says so, before any of its output: with the task id, which any front end
// can then ask about, and the node.
func OnAccepted(f func(id, node string)) RunOption {
	return func(l *live) { l.accepted = f }
}
