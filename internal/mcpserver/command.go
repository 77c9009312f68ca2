package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
)

// cancelGrace bounds how long a tool waits for a cancel to take effect on
// the node (the node kills the process group and reports at once).
const cancelGrace = 15 * time.Second

func (s *Server) handleClusterBash(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var a bashArgs
	if err := bind(req, &a); err != nil {
		return argError(ToolClusterBash, err), nil
	}
	r, err := requirements(a.RequiresOS, a.RequiresArch, a.RequiresCapabilities, "")
	if err != nil {
		return argError(ToolClusterBash, err), nil
	}
	fr, err := commandRequest(a.Command, a.Cwd, a.TimeoutSeconds, r)
	if err == nil {
		err = a.apply(&fr)
	}
	if err != nil {
		return argError(ToolClusterBash, err), nil
	}
	if a.DryRun {
		return s.dryRun(ctx, fr), nil
	}
	return s.runCommand(ctx, req, fr, bool(a.Background)), nil
}

func (s *Server) handleOffloadTo(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var a offloadArgs
	if err := bind(req, &a); err != nil {
		return argError(ToolOffloadTo, err), nil
	}
	if a.NodeID == "" {
		return argError(ToolOffloadTo, errors.New("node_id is required; cluster_status lists the node ids")), nil
	}
	r, err := requirements("", "", nil, a.NodeID)
	if err != nil {
		return argError(ToolOffloadTo, err), nil
	}
	fr, err := commandRequest(a.Command, a.Cwd, a.TimeoutSeconds, r)
	if err == nil {
		err = a.apply(&fr)
	}
	if err != nil {
		return argError(ToolOffloadTo, err), nil
	}
	return s.runCommand(ctx, req, fr, bool(a.Background)), nil
}

// runCommand submits fr and waits for it within the sync budget, relaying
// its output as progress. A foreground command whose call the client
// cancels is cancelled on its node; one still running at the end of the
// budget runs on, and the answer carries its task id.
func (s *Server) runCommand(ctx context.Context, req mcp.CallToolRequest, fr frontend.Request, background bool) *mcp.CallToolResult {
	start := time.Now()
	budget := s.cfg.SyncBudget
	// Placement (which waits while every matching node is busy) counts
	// toward the budget: a task no node took by then is not started.
	placeCtx, cancel := context.WithTimeout(ctx, budget)
	fr.Background = background
	st, err := s.service().Submit(placeCtx, fr)
	cancel()
	if err != nil {
		return s.notRun(ctx, st, fr, err)
	}
	id := st.Record.ID
	if background {
		v := taskView(st, s.cfg.OutputBytes)
		v.Next = fmt.Sprintf("running in the background on %s. Call wait_task with task_id %q when you need the result (it waits up to %s per call), task_output to read its output so far, cancel_task to stop it.",
			st.Record.Node, id, seconds(budget))
		return answer(v.text(), RunView{TaskView: v})
	}

	attached := st.Attached
	relay := s.newProgress(ctx, req)
	stop := relay.follow(id, fmt.Sprintf("task %s running on %s", id, st.Record.Node))
	st, err = s.service().Wait(ctx, id, nil, budget-time.Since(start))
	stop()
	if err != nil {
		return mcp.NewToolResultError(fmt.Sprintf("task %s: %v", id, err))
	}
	st.Attached = attached
	if ctx.Err() != nil && st.Running() {
		return s.clientGaveUp(ctx, id)
	}
	return s.commandReply(st, func(v *TaskView) {
		if !v.Running {
			return
		}
		v.Next = fmt.Sprintf("still running after the %s sync budget, and NOT killed. Call wait_task with task_id %q to wait for its end (up to %s per call), task_output to read its output so far, cancel_task to stop it.",
			seconds(budget), id, seconds(budget))
		if v.State == string(tasks.StateQueued) && v.Waiting != "" {
			v.Next = fmt.Sprintf("not started after the %s sync budget: %s; it starts once it holds its lock, and the wait does not count against its timeout. Call wait_task with task_id %q to wait for its end (up to %s per call), cancel_task to give up.",
				seconds(budget), v.Waiting, id, seconds(budget))
		}
	})
}

// taskReply renders a task's state. bad is set when the task could not run
// or finish (the text then says what would help): callers answer with a
// tool error. A task that ran to its end, whatever its exit code, or still
// runs, is not bad. edit, if not nil, amends the view before rendering.
func (s *Server) taskReply(st *frontend.Status, edit func(*TaskView)) (v TaskView, text string, bad bool) {
	v = taskView(st, s.cfg.OutputBytes)
	if edit != nil {
		edit(&v)
	}
	if st.Running() || ranToEnd(st) {
		return v, v.text(), false
	}
	kind := wire.ErrorKind(v.Error)
	switch {
	case kind != wire.ErrNone:
	case st.State == tasks.StateLost:
		kind = wire.ErrNodeLost
	case st.State == tasks.StateCancelled:
		kind = wire.ErrCancelled
	}
	return v, notRunText(&v, kind), true
}

// commandReply answers a command tool with a task's state.
func (s *Server) commandReply(st *frontend.Status, edit func(*TaskView)) *mcp.CallToolResult {
	v, text, bad := s.taskReply(st, edit)
	if bad {
		return failure(text, RunView{TaskView: v})
	}
	return answer(text, RunView{TaskView: v})
}

// notRun answers a command that could not be placed or started: no matching
// node, unknown node, refused, no free slot within the budget.
func (s *Server) notRun(ctx context.Context, st *frontend.Status, fr frontend.Request, err error) *mcp.CallToolResult {
	kind := frontend.ErrorKind(err)
	v := TaskView{State: string(tasks.StateFailed), Command: fr.Command, Error: string(kind), Message: err.Error()}
	if st != nil {
		v = taskView(st, s.cfg.OutputBytes)
		v.State, v.Error, v.Message = string(tasks.StateFailed), string(kind), err.Error()
	}
	text := notRunText(&v, kind)
	if kind == wire.ErrCancelled && ctx.Err() == nil {
		// Our own placement deadline, not the client: every matching node
		// stayed busy for the whole budget.
		v.Error = string(wire.ErrBusy)
		v.Message = fmt.Sprintf("no matching node had a free slot within the %s sync budget, so the task was not started (%v)", seconds(s.cfg.SyncBudget), err)
		text = notRunText(&v, wire.ErrBusy)
	}
	return failure(text, RunView{TaskView: v})
}

// clientGaveUp cancels a foreground task whose call the client cancelled,
// and waits for the node to have killed it.
func (s *Server) clientGaveUp(ctx context.Context, id string) *mcp.CallToolResult {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelGrace)
	defer cancel()
	if err := s.service().Cancel(cctx, id, "the MCP client cancelled the call"); err != nil {
		s.log.Warn("cancel after the client gave up", "task", id, "err", err)
	}
	st, err := s.service().Wait(cctx, id, nil, cancelGrace)
	if err != nil {
		return mcp.NewToolResultError(fmt.Sprintf("task %s: cancelled by the client; %v", id, err))
	}
	v := taskView(st, s.cfg.OutputBytes)
	return failure(notRunText(&v, wire.ErrCancelled), RunView{TaskView: v})
}

// dryRun answers with the routing decision alone.
func (s *Server) dryRun(ctx context.Context, fr frontend.Request) *mcp.CallToolResult {
	d, err := s.service().Plan(ctx, fr)
	p := PlanView{Fallbacks: []string{}, Programs: []string{}, NotChosen: []SkipView{}, Requires: RequiresView{Capabilities: []string{}}}
	var requires wire.Requirements
	if d != nil {
		requires = d.Requires
		for i, c := range d.Order {
			if i == 0 && err == nil {
				p.Node = c.Node
				continue
			}
			p.Fallbacks = append(p.Fallbacks, c.Node)
		}
		p.Requires = RequiresView{OS: d.Requires.OS, Arch: d.Requires.Arch, Capabilities: nonNil(d.Requires.Capabilities), Node: d.Requires.Node}
		p.Programs = nonNil(d.Inferred.Programs)
		p.Class = string(d.Inferred.Class)
		p.Reason = d.Reason
		for _, sk := range d.Skipped {
			p.NotChosen = append(p.NotChosen, SkipView{Node: sk.ID, Why: sk.Why})
		}
	}
	v := TaskView{State: "dry_run", Command: fr.Command, Routing: p.Reason}
	var text string
	if err != nil {
		p.Reason = err.Error()
		kind := frontend.ErrorKind(err)
		v.Error, v.Message, v.Help = string(kind), err.Error(), help(kind)
		text = fmt.Sprintf("dry run: it would not run now: %v\nhelp: %s\n", err, v.Help)
		if kind == wire.ErrBusy {
			v.Help = "a real run would wait for a free slot (within the sync budget), or queue with background: true"
			text = fmt.Sprintf("dry run: every matching node is busy now: %v\nhelp: %s\n", err, v.Help)
		}
	} else {
		text = fmt.Sprintf("dry run: it would run on %s\nrouting: %s\n", p.Node, p.Reason)
		if len(p.Fallbacks) > 0 {
			text += fmt.Sprintf("fallbacks, in order: %v\n", p.Fallbacks)
		}
	}
	text += fmt.Sprintf("requires: %s; programs: %v; class: %s\n", requires, p.Programs, nonEmpty(p.Class, "unknown"))
	for _, sk := range p.NotChosen {
		text += fmt.Sprintf("not chosen: %s %s\n", sk.Node, sk.Why)
	}
	text += "nothing ran.\n"
	return answer(text, RunView{TaskView: v, DryRun: &p})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
