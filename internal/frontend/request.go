package frontend

import (
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
}

// RunOption is an optional setting of one Run.
type RunOption func(*live)

// OnAccepted has Run call f once a node has accepted the task and its record
// says so, before any of its output: with the task id, which any front end
// can then ask about, and the node.
func OnAccepted(f func(id, node string)) RunOption {
	return func(l *live) { l.accepted = f }
}
