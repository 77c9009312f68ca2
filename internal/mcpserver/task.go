package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/tasks"
)

// unknownTask is the tool error for a task id no record knows.
func (s *Server) unknownTask(tool string, err error) *mcp.CallToolResult {
	if errors.Is(err, frontend.ErrUnknownTask) {
		why := "check the id: task ids are the 20 lowercase letters and digits that cluster_bash, offload_to and parallel_execute answers carry"
		if s.service().Store().Backend() == tasks.BackendMemory {
			why = s.recordsNote()
		}
		return mcp.NewToolResultError(fmt.Sprintf("%s: %v. %s", tool, err, why))
	}
	return mcp.NewToolResultError(fmt.Sprintf("%s: %v", tool, err))
}

func (s *Server) handleTaskStatus(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var a taskArgs
	if err := bind(req, &a); err != nil {
		return argError(ToolTaskStatus, err), nil
	}
	id, err := taskID(a.TaskID)
	if err != nil {
		return argError(ToolTaskStatus, err), nil
	}
	st, err := s.service().Status(ctx, id)
	if err != nil {
		return s.unknownTask(ToolTaskStatus, err), nil
	}
	// A status read succeeds whatever the task's fate: it is never a tool
	// error for a known task.
	v := taskView(st, s.cfg.OutputBytes)
	if st.Running() {
		v.Next = fmt.Sprintf("call wait_task with task_id %q to wait for its end (up to %s per call) rather than polling task_status.", id, seconds(s.cfg.SyncBudget))
	}
	return answer(v.text(), v), nil
}

func (s *Server) handleWaitTask(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var a waitArgs
	if err := bind(req, &a); err != nil {
		return argError(ToolWaitTask, err), nil
	}
	id, err := taskID(a.TaskID)
	if err != nil {
		return argError(ToolWaitTask, err), nil
	}
	var until *regexp.Regexp
	if a.UntilRegex != "" {
		if until, err = regexp.Compile(a.UntilRegex); err != nil {
			return argError(ToolWaitTask, fmt.Errorf("until_regex: %w", err)), nil
		}
	}
	st, err := s.service().Status(ctx, id)
	if err != nil {
		return s.unknownTask(ToolWaitTask, err), nil
	}
	if st.Running() {
		relay := s.newProgress(ctx, req)
		stop := relay.follow(id, fmt.Sprintf("waiting for task %s on %s", id, nonEmpty(st.Record.Node, "(not placed yet)")))
		st, err = s.service().Wait(ctx, id, until, s.cfg.SyncBudget)
		stop()
		if err != nil {
			return s.unknownTask(ToolWaitTask, err), nil
		}
	} else if until != nil {
		st.Matched = matchesAny(st, until)
	}
	budget := s.cfg.SyncBudget
	v, text, bad := s.taskReply(st, func(v *TaskView) {
		if until != nil && v.Matched == nil {
			no := false
			v.Matched = &no
		}
		switch {
		case !v.Running:
		case st.Matched:
			v.Next = fmt.Sprintf("until_regex matched; the task is still running. Call wait_task with task_id %q (without until_regex) to wait for its end, cancel_task to stop it.", id)
		default:
			v.Next = fmt.Sprintf("still running after waiting %s (not killed). Call wait_task again with task_id %q to keep waiting, task_output to read its output so far, cancel_task to stop it.", seconds(budget), id)
		}
	})
	if bad {
		return failure(text, v), nil
	}
	return answer(text, v), nil
}

// matchesAny reports whether re matches a line of an ended task's output.
func matchesAny(st *frontend.Status, re *regexp.Regexp) bool {
	if st.Result == nil {
		return false
	}
	for _, text := range []string{st.Result.Stdout, st.Result.Stderr} {
		for _, l := range splitLines(text) {
			if re.MatchString(l) {
				return true
			}
		}
	}
	return false
}

func (s *Server) handleCancelTask(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var a taskArgs
	if err := bind(req, &a); err != nil {
		return argError(ToolCancelTask, err), nil
	}
	id, err := taskID(a.TaskID)
	if err != nil {
		return argError(ToolCancelTask, err), nil
	}
	st, err := s.service().Status(ctx, id)
	if err != nil {
		return s.unknownTask(ToolCancelTask, err), nil
	}
	if !st.Running() {
		v := taskView(st, s.cfg.OutputBytes)
		text := fmt.Sprintf("nothing to cancel: task %s had already ended (%s).\n%s", id, st.State, v.text())
		return answer(text, v), nil
	}
	if err := s.service().Cancel(ctx, id, "cancelled by cancel_task"); err != nil {
		return mcp.NewToolResultError(fmt.Sprintf("cancel_task: %v", err)), nil
	}
	// The node kills the process group and reports; wait for that report.
	if st, err = s.service().Wait(ctx, id, nil, cancelGrace); err != nil {
		return mcp.NewToolResultError(fmt.Sprintf("cancel_task: task %s: %v", id, err)), nil
	}
	v := taskView(st, s.cfg.OutputBytes)
	head := fmt.Sprintf("cancelled task %s on %s: its process group was killed.\n", id, nonEmpty(v.Node, "(no node yet)"))
	if st.Running() {
		head = fmt.Sprintf("asked %s to cancel task %s; it has not reported the end yet: task_status shows when it does.\n", nonEmpty(v.Node, "its node"), id)
	}
	return answer(head+v.text(), v), nil
}
