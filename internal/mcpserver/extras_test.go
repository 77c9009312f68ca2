package mcpserver

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/frontend"
)

// TestLockArgumentQueuesWithItsPlace: a command taking a lock another task
// holds is queued, and task_status says what for and how many are ahead;
// it runs once the lock is free.
func TestLockArgumentQueuesWithItsPlace(t *testing.T) {
	f := newInProcess(t)
	gate := filepath.Join(t.TempDir(), "gate")
	first := ok[RunView](t, call(t, f.c, ToolClusterBash, map[string]any{
		"command": fmt.Sprintf("while [ ! -e %s ]; do sleep 0.05; done", gate), "lock": "mcp-build", "background": true}))
	second := ok[RunView](t, call(t, f.c, ToolClusterBash, map[string]any{
		"command": "echo second", "lock": "mcp-build", "background": true}))
	fabrictest.Eventually(t, patience, "the second queued behind the first", func() bool {
		v := ok[TaskView](t, call(t, f.c, ToolTaskStatus, map[string]any{"task_id": second.TaskID}))
		return v.State == "queued" && v.Waiting == "waiting for lock mcp-build (1 ahead)" && v.Node != ""
	})
	r := call(t, f.c, ToolTaskStatus, map[string]any{"task_id": second.TaskID})
	if !strings.Contains(text(r), "queued on ") || !strings.Contains(text(r), ": waiting for lock mcp-build (1 ahead)") {
		t.Fatalf("task_status text:\n%s", text(r))
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{first.TaskID, second.TaskID} {
		v := ok[TaskView](t, call(t, f.c, ToolWaitTask, map[string]any{"task_id": id}))
		if v.Running || v.ExitCode == nil || *v.ExitCode != 0 || len(v.Locks) != 1 {
			t.Fatalf("task %s: %+v", id, v)
		}
	}
}

// TestIdempotencyKeyArgument: a call reissued with its idempotency_key
// gets the first task's result; the command ran once.
func TestIdempotencyKeyArgument(t *testing.T) {
	f := newInProcess(t)
	runs := filepath.Join(t.TempDir(), "runs")
	args := map[string]any{"command": fmt.Sprintf("echo run >> %s; echo result", runs), "idempotency_key": "mcp-deploy-1"}
	first := ok[RunView](t, call(t, f.c, ToolClusterBash, args))
	again := call(t, f.c, ToolClusterBash, args)
	v := ok[RunView](t, again)
	if !v.Attached || v.TaskID != first.TaskID || v.Key != "mcp-deploy-1" || v.Stdout.Text != "result\n" || !strings.Contains(text(again), "it was not run again") {
		t.Fatalf("reissued call: %+v\n%s", v, text(again))
	}
	if b, _ := os.ReadFile(runs); string(b) != "run\n" {
		t.Fatalf("ran %q, want once", b)
	}
}

// TestStdinAndIdleTimeoutArguments: stdin is the command's input; an idle
// timeout kills a silent command with its own error kind and help.
func TestStdinAndIdleTimeoutArguments(t *testing.T) {
	f := newInProcess(t)
	v := ok[RunView](t, call(t, f.c, ToolClusterBash, map[string]any{"command": "wc -l", "stdin": "a\nb\n"}))
	if strings.TrimSpace(v.Stdout.Text) != "2" {
		t.Fatalf("stdin: %+v", v)
	}
	r := call(t, f.c, ToolClusterBash, map[string]any{"command": "echo hi; sleep 30", "idle_timeout_seconds": 0.5, "timeout_seconds": 60})
	var idle RunView
	decode(t, r, &idle)
	if !r.IsError || idle.Error != "idle_timeout" || !strings.Contains(idle.Help, "printed nothing") {
		t.Fatalf("idle timeout: %+v\n%s", idle, text(r))
	}
}

// TestExtraArgumentErrors: what cannot be asked is refused, saying why.
func TestExtraArgumentErrors(t *testing.T) {
	f := newInProcess(t)
	for _, tc := range []struct {
		args map[string]any
		says string
	}{
		{map[string]any{"retries": 2, "retry_on": []string{"timeout"}}, "never on an exit code or a timeout"},
		{map[string]any{"retries": 2}, "retries without retry_on"},
		{map[string]any{"lock": "no spaces"}, "letters, digits"},
		{map[string]any{"lock_timeout_seconds": 5}, "without lock"},
		{map[string]any{"gpus": -1}, "gpus"},
		{map[string]any{"stdin": strings.Repeat("x", frontend.MaxInlineStdin+1)}, "stdin"},
	} {
		tc.args["command"] = "echo never"
		r := call(t, f.c, ToolClusterBash, tc.args)
		if !r.IsError || !strings.Contains(text(r), tc.says) {
			t.Errorf("%v: %s; want an error saying %q", tc.args, text(r), tc.says)
		}
	}
}
