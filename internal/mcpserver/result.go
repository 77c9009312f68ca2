package mcpserver

import (
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/fabric-run/fabric/internal/wire"
)

// answer is a normal tool result: text and the same as structured content.
func answer(text string, structured any) *mcp.CallToolResult {
	return mcp.NewToolResultStructured(structured, text)
}

// failure is a tool error (IsError) that still carries structured content
// (of the tool's output type, so clients that check it against the output
// schema accept it).
func failure(text string, structured any) *mcp.CallToolResult {
	r := mcp.NewToolResultStructured(structured, text)
	r.IsError = true
	return r
}

// argError is a tool error for arguments the tool cannot use.
func argError(tool string, err error) *mcp.CallToolResult {
	return mcp.NewToolResultError(fmt.Sprintf("%s: %v", tool, err))
}

// help says what would help after a command could not run or finish, by
// error kind.
func help(kind wire.ErrorKind) string {
	switch kind {
	case wire.ErrNoMatch:
		return "no node has what the command needs (see the requirement above). cluster_status lists every node's os, arch and capabilities: relax requires_os/requires_arch/requires_capabilities, use offload_to with a node that fits, or start a node that has them."
	case wire.ErrUnknownNode:
		return "that node id is not in the cluster. cluster_status lists the node ids (nodes appear there once their worker runs and heartbeats)."
	case wire.ErrRejected:
		return "the command guard refused it. It refuses destructive patterns (recursive deletes of / or home, fork bombs, writes to disks, mkfs, shutdown) and programs on the deny list (FABRIC_GUARD_DENY). Do not retry the same command: rephrase it to avoid what the reason names, or ask the user to run it themselves."
	case wire.ErrBusy:
		return "every matching node's slots are taken. Retry later, pass background: true to queue behind the running work, or see cluster_status (running/slots)."
	case wire.ErrUnavailable, wire.ErrDraining:
		return "no node accepted the task (nodes may be restarting, draining or unreachable). cluster_status shows their state; retry in a moment."
	case wire.ErrTimeout:
		return "the command hit its timeout and its whole process group was killed. Pass a larger timeout_seconds (with background: true for long runs), or make the command faster (run fewer tests, build one target)."
	case wire.ErrCancelled:
		return "the task was cancelled (cancel_task, the client giving up on the call, or fail_fast); its process group was killed. Run it again if it is still needed."
	case wire.ErrNodeLost:
		return "its node stopped heartbeating while the command ran: the command may or may not have finished there. cluster_status shows whether the node came back; run the command again (elsewhere, if the node is gone)."
	case wire.ErrStartFailed:
		return "the node could not start the process: check cwd exists on that node and the command's program is installed there."
	case wire.ErrBadRequest:
		return "the node could not read the task; this is a fabric bug or a version mismatch between front end and node (cluster_status shows node versions)."
	case wire.ErrMismatch:
		return "the node does not meet the command's requirements; cluster_status lists what each node has."
	case wire.ErrIdleTimeout:
		return "the command printed nothing for its idle_timeout_seconds and its whole process group was killed: it may have hung (waiting for input, a lock, the network). Look at its last output; raise idle_timeout_seconds if it is just quiet."
	case wire.ErrLockTimeout:
		return "its lock stayed held by other tasks for lock_timeout_seconds, and the command never started. Retry later, or wait longer (a larger lock_timeout_seconds, or none)."
	case wire.ErrLockLost:
		return "its node lost the cluster-wide lock while the command ran (cut off from the hub for a whole lease) and killed it so that no more tasks than the lock allows run at once. Run it again once the node is back (cluster_status)."
	}
	return "see the message above."
}

// notRunText is the text of a command that could not run or finish: what
// happened, then what would help.
// It sets v.Help.
func notRunText(v *TaskView, kind wire.ErrorKind) string {
	v.Help = help(kind)
	var b strings.Builder
	b.WriteString(v.text())
	fmt.Fprintf(&b, "help: %s\n", v.Help)
	return b.String()
}
