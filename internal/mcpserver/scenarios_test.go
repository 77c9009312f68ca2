package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/fabric-run/fabric/internal/runner"
)

// scenario is a test every fixture runs: in process and over stdio.
type scenario struct {
	name string
	run  func(t *testing.T, f *fixture)
}

var scenarios = []scenario{
	{"success", testSuccess},
	{"non-zero exit is not an error", testNonZero},
	{"no matching node", testNoMatch},
	{"unknown node id", testUnknownNode},
	{"refused by the guard", testRefused},
	{"timeout", testTimeout},
	{"background then wait_task", testBackground},
	{"longer than the sync budget", testOverBudget},
	{"until_regex", testUntilRegex},
	{"task_output slices", testOutputSlices},
	{"cancel_task kills the process group", testCancel},
	{"client cancel cancels the task", testClientCancel},
	{"progress notifications", testProgress},
	{"50 MiB output is bounded", testBigOutput},
	{"dry_run", testDryRun},
	{"cluster_status", testClusterStatus},
	{"parallel_execute groups and fail_fast", testParallel},
	{"argument errors", testArgErrors},
}

// gate is a file whose creation lets a waiting command go on: the test
// decides when the command ends. cmd is the shell that waits for it.
func gate(t *testing.T) (cmd string, open func()) {
	path := filepath.Join(t.TempDir(), "gate")
	return fmt.Sprintf("until [ -e %s ]; do sleep 0.02; done", path), func() {
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func testSuccess(t *testing.T, f *fixture) {
	r := call(t, f.c, ToolClusterBash, map[string]any{"command": "echo hello"})
	v := ok[RunView](t, r)
	if v.ExitCode == nil || *v.ExitCode != 0 || v.State != "done" || v.Running || v.Stdout.Text != "hello\n" ||
		v.Stdout.Bytes != 6 || v.Node != f.local || v.TaskID == "" || v.Routing == "" || v.DryRun != nil {
		t.Fatalf("view = %+v", v)
	}
	for _, want := range []string{"exit 0 on " + f.local, "hello\n", "routing: ", "(task " + v.TaskID + ")"} {
		if !strings.Contains(text(r), want) {
			t.Errorf("text lacks %q:\n%s", want, text(r))
		}
	}
}

func testNonZero(t *testing.T, f *fixture) {
	r := call(t, f.c, ToolClusterBash, map[string]any{"command": "echo out; echo err >&2; exit 3"})
	v := ok[RunView](t, r)
	if v.ExitCode == nil || *v.ExitCode != 3 || v.State != "failed" || v.Stdout.Text != "out\n" || v.Stderr.Text != "err\n" || v.Error != "" {
		t.Fatalf("view = %+v", v)
	}
	if !strings.Contains(text(r), "exit 3 on") {
		t.Errorf("text:\n%s", text(r))
	}
}

func testNoMatch(t *testing.T, f *fixture) {
	r := call(t, f.c, ToolClusterBash, map[string]any{"command": "echo x", "requires_capabilities": []any{f.missingCap}})
	failed(t, r, "no matching node (requires caps="+f.missingCap+")", "cluster_status lists every node's os, arch and capabilities")
	var v RunView
	decode(t, r, &v)
	if v.Error != "no_match" || v.TaskID == "" || v.State != "failed" {
		t.Errorf("view = %+v", v)
	}
	// The task is recorded as failed, with the reason.
	st := ok[TaskView](t, call(t, f.c, ToolTaskStatus, map[string]any{"task_id": v.TaskID}))
	if st.State != "failed" || st.Error != "no_match" {
		t.Errorf("task_status = %+v", st)
	}
}

func testUnknownNode(t *testing.T, f *fixture) {
	r := call(t, f.c, ToolOffloadTo, map[string]any{"command": "true", "node_id": "nowhere"})
	failed(t, r, `unknown node "nowhere"`, "cluster_status lists the node ids")
	node := f.nodes[len(f.nodes)-1]
	v := ok[RunView](t, call(t, f.c, ToolOffloadTo, map[string]any{"command": "echo there", "node_id": node}))
	if v.Node != node || v.Stdout.Text != "there\n" {
		t.Fatalf("offload_to %s: %+v", node, v)
	}
}

func testRefused(t *testing.T, f *fixture) {
	r := call(t, f.c, ToolClusterBash, map[string]any{"command": forbidden + " --now"})
	failed(t, r, "refused", "denylist", forbidden, "command guard refused it")
	var v RunView
	decode(t, r, &v)
	if v.Error != "rejected" || v.ExitCode != nil {
		t.Errorf("view = %+v", v)
	}
}

func testTimeout(t *testing.T, f *fixture) {
	r := call(t, f.c, ToolClusterBash, map[string]any{"command": "echo before; sleep 30", "timeout_seconds": 0.5})
	failed(t, r, "timeout", "timeout_seconds", "before")
	var v RunView
	decode(t, r, &v)
	if v.Error != "timeout" || v.Running || v.Stdout.Text != "before\n" {
		t.Errorf("view = %+v", v)
	}
}

func testBackground(t *testing.T, f *fixture) {
	wait, open := gate(t)
	r := call(t, f.c, ToolClusterBash, map[string]any{"command": wait + "; echo bg-done", "background": true})
	v := ok[RunView](t, r)
	if !v.Running || v.State != "running" || v.TaskID == "" || v.Node == "" || !strings.Contains(v.Next, "wait_task") {
		t.Fatalf("background answer = %+v", v)
	}
	st := ok[TaskView](t, call(t, f.c, ToolTaskStatus, map[string]any{"task_id": v.TaskID}))
	if st.State != "running" || !st.Running || st.ExitCode != nil || !strings.Contains(st.Next, "wait_task") {
		t.Fatalf("task_status while gated = %+v", st)
	}
	open()
	done := ok[TaskView](t, call(t, f.c, ToolWaitTask, map[string]any{"task_id": v.TaskID}))
	if done.State != "done" || done.Running || done.ExitCode == nil || *done.ExitCode != 0 || done.Stdout.Text != "bg-done\n" {
		t.Fatalf("wait_task = %+v", done)
	}
	st = ok[TaskView](t, call(t, f.c, ToolTaskStatus, map[string]any{"task_id": v.TaskID}))
	if st.State != "done" || st.Stdout.Text != "bg-done\n" {
		t.Fatalf("task_status after = %+v", st)
	}
}

func testOverBudget(t *testing.T, f *fixture) {
	wait, open := gate(t)
	start := time.Now()
	r := call(t, f.short, ToolClusterBash, map[string]any{"command": "echo started; " + wait + "; echo finished"})
	took := time.Since(start)
	v := ok[RunView](t, r)
	if !v.Running || v.TaskID == "" || v.ExitCode != nil || !strings.Contains(v.Next, "wait_task") || !strings.Contains(v.Next, "NOT killed") {
		t.Fatalf("over-budget answer = %+v", v)
	}
	if took > patience/2 {
		t.Errorf("the call took %s with a %s budget", took, shortBudget)
	}
	open()
	done := ok[TaskView](t, call(t, f.c, ToolWaitTask, map[string]any{"task_id": v.TaskID}))
	if done.State != "done" || done.Stdout.Text != "started\nfinished\n" {
		t.Fatalf("wait_task = %+v", done)
	}
}

func testUntilRegex(t *testing.T, f *fixture) {
	wait, open := gate(t)
	v := ok[RunView](t, call(t, f.c, ToolClusterBash, map[string]any{
		"command": "echo tick 1; echo tick 2; echo ready >&2; " + wait + "; echo after", "background": true}))
	m := ok[TaskView](t, call(t, f.c, ToolWaitTask, map[string]any{"task_id": v.TaskID, "until_regex": "^re+ady$"}))
	if m.Matched == nil || !*m.Matched || !m.Running || m.Stderr.Text != "ready\n" || !strings.Contains(m.Next, "until_regex matched") {
		t.Fatalf("wait_task until ready = %+v", m)
	}
	open()
	end := ok[TaskView](t, call(t, f.c, ToolWaitTask, map[string]any{"task_id": v.TaskID}))
	if end.State != "done" || end.Matched != nil || end.Stdout.Text != "tick 1\ntick 2\nafter\n" {
		t.Fatalf("wait_task to the end = %+v", end)
	}
	no := ok[TaskView](t, call(t, f.c, ToolWaitTask, map[string]any{"task_id": v.TaskID, "until_regex": "never printed"}))
	if no.Matched == nil || *no.Matched || no.Running {
		t.Fatalf("wait_task on an ended task, no match = %+v", no)
	}
	failed(t, call(t, f.c, ToolWaitTask, map[string]any{"task_id": v.TaskID, "until_regex": "("}), "until_regex")
}

func testOutputSlices(t *testing.T, f *fixture) {
	v := ok[RunView](t, call(t, f.c, ToolClusterBash, map[string]any{"command": "seq 1 100; echo oops >&2"}))
	id := v.TaskID
	tests := []struct {
		args  map[string]any
		want  string
		first int
	}{
		{map[string]any{"head": 3}, "1\n2\n3\n", 1},
		{map[string]any{"tail": 2}, "99\n100\n", 99},
		{map[string]any{"range": "10-12"}, "10\n11\n12\n", 10},
		{map[string]any{"range": []any{10, 12}}, "10\n11\n12\n", 10},
		{map[string]any{"range": "98-"}, "98\n99\n100\n", 98},
		{map[string]any{"grep": "^5[0-2]$"}, "50: 50\n51: 51\n52: 52\n", 0},
		{map[string]any{"stream": "stderr"}, "oops\n", 1},
	}
	for _, tt := range tests {
		tt.args["task_id"] = id
		o := ok[OutputView](t, call(t, f.c, ToolTaskOutput, tt.args))
		if o.Text != tt.want || o.FirstLine != tt.first || o.Lines != 100 && o.Stream == "stdout" || o.Cut || o.Running {
			t.Errorf("task_output(%v) = %+v, want %q from line %d", tt.args, o, tt.want, tt.first)
		}
	}
	failed(t, call(t, f.c, ToolTaskOutput, map[string]any{"task_id": id, "head": 1, "tail": 1}), "at most one of head, tail, range and grep")
	failed(t, call(t, f.c, ToolTaskOutput, map[string]any{"task_id": id, "range": "5-2"}), "FROM-TO")
	failed(t, call(t, f.c, ToolTaskOutput, map[string]any{"task_id": "nosuchtask"}), "unknown task nosuchtask")
}

// pids reads "SHELL CHILD" from the output of `sleep 300 & echo $$ $!`.
func pids(t *testing.T, out string) (shell, child int) {
	t.Helper()
	f := strings.Fields(out)
	if len(f) < 2 {
		t.Fatalf("no pids in %q", out)
	}
	shell, err1 := strconv.Atoi(f[0])
	child, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		t.Fatalf("no pids in %q", out)
	}
	return shell, child
}

// groupGone waits until the shell, its child and its process group are gone.
func groupGone(t *testing.T, shell, child int) {
	t.Helper()
	eventually(t, fmt.Sprintf("process group %d gone", shell), func() bool {
		return !runner.Alive(shell) && !runner.Alive(child) && !runner.GroupAlive(shell)
	})
}

const pidsCommand = "sleep 300 & echo $$ $!; wait"

func testCancel(t *testing.T, f *fixture) {
	v := ok[RunView](t, call(t, f.c, ToolClusterBash, map[string]any{"command": pidsCommand, "background": true}))
	m := ok[TaskView](t, call(t, f.c, ToolWaitTask, map[string]any{"task_id": v.TaskID, "until_regex": `^\d+ \d+$`}))
	shell, child := pids(t, m.Stdout.Text)
	if !runner.Alive(shell) || !runner.Alive(child) {
		t.Fatalf("pids %d %d not running before the cancel", shell, child)
	}
	r := call(t, f.c, ToolCancelTask, map[string]any{"task_id": v.TaskID})
	c := ok[TaskView](t, r)
	if c.State != "cancelled" || c.Running || !strings.Contains(text(r), "process group was killed") {
		t.Fatalf("cancel_task = %+v\n%s", c, text(r))
	}
	groupGone(t, shell, child)
	again := call(t, f.c, ToolCancelTask, map[string]any{"task_id": v.TaskID})
	if again.IsError || !strings.Contains(text(again), "nothing to cancel") {
		t.Errorf("second cancel_task: %s", text(again))
	}
	if st := ok[TaskView](t, call(t, f.c, ToolTaskStatus, map[string]any{"task_id": v.TaskID})); st.State != "cancelled" {
		t.Errorf("task_status after cancel = %+v", st)
	}
}

func testClientCancel(t *testing.T, f *fixture) {
	token := "client-cancel-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type reply struct {
		res *mcp.CallToolResult
		err error
	}
	done := make(chan reply, 1)
	go func() {
		res, err := f.c.CallTool(ctx, callToolRequest(ToolClusterBash, map[string]any{"command": pidsCommand}, token))
		done <- reply{res, err}
	}()
	idRe, pidRe := regexp.MustCompile(`task ([a-z0-9]+) running on`), regexp.MustCompile(`(?m)^(\d+ \d+)$`)
	msgs := f.progress.wait(t, token, func(msgs []string) bool {
		return matching(msgs, idRe) != nil && matching(msgs, pidRe) != nil
	})
	id := matching(msgs, idRe)[1]
	shell, child := pids(t, matching(msgs, pidRe)[1])
	cancel()
	// Over stdio the client stops waiting at once; in process the handler's
	// answer (a tool error) comes back as the call returns.
	if rep := <-done; !errors.Is(rep.err, context.Canceled) && (rep.err != nil || !rep.res.IsError || !strings.Contains(text(rep.res), "cancelled")) {
		t.Fatalf("cancelled call returned %v, %+v", rep.err, rep.res)
	}
	// wait_task reports a task that did not finish as a tool error.
	r := call(t, f.c, ToolWaitTask, map[string]any{"task_id": id})
	failed(t, r, "cancelled")
	var st TaskView
	decode(t, r, &st)
	if st.State != "cancelled" || st.Error != "cancelled" {
		t.Fatalf("task after the client cancelled = %+v", st)
	}
	groupGone(t, shell, child)
}

func testProgress(t *testing.T, f *fixture) {
	token := "progress-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	ctx, cancel := context.WithTimeout(context.Background(), 2*patience)
	defer cancel()
	r := callCtx(t, ctx, f.c, ToolClusterBash, map[string]any{
		"command": "for i in 1 2 3 4 5; do echo line $i; sleep 0.25; done; echo warn >&2"}, token)
	v := ok[RunView](t, r)
	if v.Stdout.Lines != 5 {
		t.Fatalf("result = %+v", v)
	}
	want := []string{"line 1", "line 2", "line 3", "line 4", "line 5", "[stderr] warn"}
	msgs := f.progress.wait(t, token, func(msgs []string) bool {
		all := strings.Join(msgs, "\n")
		for _, w := range want {
			if !strings.Contains(all, w) {
				return false
			}
		}
		return true
	})
	if len(msgs) < 4 || !strings.Contains(msgs[0], "task "+v.TaskID+" running on") {
		t.Errorf("progress messages = %q", msgs)
	}
	_, values := f.progress.get(token)
	for i := 1; i < len(values); i++ {
		if values[i] <= values[i-1] {
			t.Errorf("progress values not increasing: %v", values)
			break
		}
	}
}

func testBigOutput(t *testing.T, f *fixture) {
	const size = 50 << 20
	line := strings.Repeat("0123456789", 9) // 90 characters and a newline per line
	r := call(t, f.c, ToolClusterBash, map[string]any{"command": fmt.Sprintf("yes %s | head -c %d; echo done >&2", line, size)})
	v := ok[RunView](t, r)
	tx := text(r)
	if len(tx) > DefaultOutputBytes+2048 {
		t.Errorf("text is %d bytes, over the %d budget", len(tx), DefaultOutputBytes)
	}
	for _, want := range []string{"stdout: 50.0 MiB", "kept the head and tail", "showing the first", "task_output gets any slice", line + "\n", "done\n"} {
		if !strings.Contains(tx, want) {
			t.Errorf("text lacks %q:\n%s", want, tx)
		}
	}
	sc, _ := json.Marshal(r.StructuredContent)
	if len(sc) > 2*DefaultOutputBytes+4096 {
		t.Errorf("structured content is %d bytes", len(sc))
	}
	if v.Stdout.Bytes != size || !v.Stdout.Cut || v.Stdout.Note == "" || *v.ExitCode != 0 {
		t.Errorf("stdout view = %+v", v.Stdout)
	}
	o := ok[OutputView](t, call(t, f.c, ToolTaskOutput, map[string]any{"task_id": v.TaskID, "tail": 1}))
	if o.KeptAll || o.Bytes != size || o.Shown != 1 || !strings.HasPrefix(line, strings.TrimSuffix(o.Text, "\n")) {
		t.Errorf("task_output tail 1 = %+v", o)
	}
	all := ok[OutputView](t, call(t, f.c, ToolTaskOutput, map[string]any{"task_id": v.TaskID}))
	if !all.Cut || len(all.Text) > DefaultOutputBytes || !strings.Contains(all.Note, "range") {
		t.Errorf("task_output of everything: cut %t, %d bytes, note %q", all.Cut, len(all.Text), all.Note)
	}
}

func testDryRun(t *testing.T, f *fixture) {
	r := call(t, f.c, ToolClusterBash, map[string]any{"command": "echo hi", "dry_run": true})
	v := ok[RunView](t, r)
	if v.DryRun == nil || v.DryRun.Node != f.local || v.DryRun.Class != "light" || v.TaskID != "" || !slices.Contains(v.DryRun.Programs, "echo") {
		t.Fatalf("dry run = %+v %+v", v, v.DryRun)
	}
	if !strings.Contains(text(r), "dry run: it would run on "+f.local) || !strings.Contains(text(r), "nothing ran") {
		t.Errorf("text:\n%s", text(r))
	}
	r = call(t, f.c, ToolClusterBash, map[string]any{"command": "echo hi", "dry_run": true, "requires_capabilities": []any{f.missingCap}})
	v = ok[RunView](t, r)
	if v.DryRun.Node != "" || !strings.Contains(v.DryRun.Reason, "no matching node") || len(v.DryRun.NotChosen) != len(f.nodes) ||
		!slices.Contains(v.DryRun.Requires.Capabilities, f.missingCap) {
		t.Fatalf("dry run with no match = %+v", v.DryRun)
	}
}

func testClusterStatus(t *testing.T, f *fixture) {
	r := call(t, f.c, ToolClusterStatus, nil)
	v := ok[ClusterView](t, r)
	if v.LocalNode != f.local || v.Records.Backend != "jetstream" || v.Records.Note == "" || v.Server == "" || v.SyncBudgetSeconds != callBudget.Seconds() {
		t.Fatalf("cluster_status = %+v", v)
	}
	var ids []string
	for _, n := range v.Nodes {
		ids = append(ids, n.ID)
		seen, err := time.Parse(time.RFC3339, n.LastSeen)
		if n.OS != runtime.GOOS || n.Arch != runtime.GOARCH || n.State != "ready" || n.Via != "worker" || n.Slots != 8 ||
			n.CPUs < 1 || n.Version == "" || n.Hostname == "" || err != nil || time.Since(seen) > time.Minute || n.Local != (n.ID == f.local) ||
			slices.Contains(n.Capabilities, "any") {
			t.Errorf("node = %+v", n)
		}
		if want, ok := inProcessNodes[n.ID]; ok && !sameSet(n.Capabilities, want) {
			t.Errorf("node %s capabilities %v, want %v", n.ID, n.Capabilities, want)
		}
	}
	if !slices.Equal(ids, f.nodes) {
		t.Errorf("nodes %v, want %v", ids, f.nodes)
	}
	for _, want := range append([]string{"NODE", "RUN/SLOTS", "jetstream"}, f.nodes...) {
		if !strings.Contains(text(r), want) {
			t.Errorf("text lacks %q:\n%s", want, text(r))
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func testParallel(t *testing.T, f *fixture) {
	cmds := []any{"echo same", "echo same", "echo diff", "echo same; exit 2"}
	token := "parallel-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	ctx, cancel := context.WithTimeout(context.Background(), 2*patience)
	defer cancel()
	r := callCtx(t, ctx, f.c, ToolParallelExecute, map[string]any{"commands": cmds}, token)
	v := ok[ParallelView](t, r)
	ended := regexp.MustCompile(`^4 of 4 commands ended`)
	f.progress.wait(t, token, func(msgs []string) bool { return matching(msgs, ended) != nil })
	if len(v.Results) != 4 {
		t.Fatalf("results = %+v", v.Results)
	}
	for i, res := range v.Results {
		if res.Number != i+1 || res.Command != cmds[i] || res.TaskID == "" || res.ExitCode == nil {
			t.Errorf("result %d = %+v", i, res)
		}
	}
	if *v.Results[3].ExitCode != 2 || v.Results[3].Group != 3 || v.Results[1].Group != 1 {
		t.Errorf("results = %+v", v.Results)
	}
	if len(v.Groups) != 3 || v.Groups[0].Commands != "1,2" || v.Groups[0].Outcome != "exit 0" || v.Groups[0].Stdout.Text != "same\n" ||
		v.Groups[1].Commands != "3" || v.Groups[2].Commands != "4" || v.Groups[2].Outcome != "exit 2" {
		t.Errorf("groups = %+v", v.Groups)
	}
	if !slices.Equal(v.ExitCodes, []ExitCount{{0, 3}, {2, 1}}) || v.NotRun != 0 || v.Running != 0 {
		t.Errorf("counts = %+v, not run %d, running %d", v.ExitCodes, v.NotRun, v.Running)
	}
	for _, want := range []string{"4 commands on", "exit 0 ×3, exit 2 ×1", "== commands 1,2 (node", "): exit 0 ==\n--- stdout (1 line) ---\nsame\n", "command 4 (node"} {
		if !strings.Contains(text(r), want) {
			t.Errorf("text lacks %q:\n%s", want, text(r))
		}
	}

	ff := ok[ParallelView](t, call(t, f.c, ToolParallelExecute, map[string]any{
		"commands": []any{"true", "exit 1", "echo never", "echo never"}, "max_parallel": 1, "fail_fast": true}))
	if *ff.Results[0].ExitCode != 0 || *ff.Results[1].ExitCode != 1 || ff.NotRun != 2 {
		t.Fatalf("fail_fast results = %+v", ff.Results)
	}
	for _, res := range ff.Results[2:] {
		if res.ExitCode != nil || !strings.Contains(res.Message, "fail_fast") {
			t.Errorf("not started = %+v", res)
		}
	}
	if g := ff.Groups[len(ff.Groups)-1]; g.Commands != "3,4" || !strings.HasPrefix(g.Outcome, "did not run") || strings.Contains(g.Stdout.Text, "never") {
		t.Errorf("fail_fast groups = %+v", ff.Groups)
	}

	none := call(t, f.c, ToolParallelExecute, map[string]any{"commands": []any{"true", "true"}, "requires_capabilities": []any{f.missingCap}})
	failed(t, none, "did not run: no_match")
}

func testArgErrors(t *testing.T, f *fixture) {
	failed(t, call(t, f.c, ToolClusterBash, map[string]any{}), "command is required")
	failed(t, call(t, f.c, ToolClusterBash, map[string]any{"command": "true", "timeout": 5}), `unknown argument "timeout"`, "timeout_seconds")
	failed(t, call(t, f.c, ToolClusterBash, map[string]any{"command": "true", "requires_os": "plan9"}), "requires_os")
	failed(t, call(t, f.c, ToolOffloadTo, map[string]any{"command": "true"}), "node_id is required")
	failed(t, call(t, f.c, ToolTaskStatus, map[string]any{"task_id": "nosuchtask"}), "unknown task nosuchtask", "check the id")
	failed(t, call(t, f.c, ToolParallelExecute, map[string]any{"commands": []any{}}), "commands is required")
}
