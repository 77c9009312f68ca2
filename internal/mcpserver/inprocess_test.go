package mcpserver

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/guard"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/worker"
)

// forbidden is a program the tests' guard denies: harmless, and installed
// nowhere, so a refusal is never a destructive command.
const forbidden = "fabric-test-forbidden"

// inProcessNodes are the in-process cluster's nodes and capabilities.
var inProcessNodes = map[string][]string{"a": {"make", "docker"}, "b": {"make"}, "c": {"make"}}

// newInProcess starts a real embedded hub with JetStream, three in-process
// workers, a task service with the guard on the JetStream record store,
// and two MCP servers over it (budgets callBudget and
// shortBudget), each with an in-process client.
func newInProcess(t testing.TB) *fixture {
	t.Helper()
	h, err := hub.Start(hub.Config{JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	conn := func() *nats.Conn {
		nc, err := nats.Connect("", h.InProcess())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	f := &fixture{local: "a", missingCap: "gpu"}
	for _, name := range []string{"a", "b", "c"} {
		w, err := worker.New(conn(), worker.Config{Name: name, OS: "linux", Arch: "amd64", NoDetect: true,
			Capabilities: inProcessNodes[name], Load: worker.FixedLoad{CPUs: 4}, Slots: 8, HeartbeatInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		f.nodes = append(f.nodes, name)
	}
	g, err := guard.New(guard.Policy{DenyList: []string{forbidden}})
	if err != nil {
		t.Fatal(err)
	}
	nc := conn()
	store, err := tasks.Open(context.Background(), nc, tasks.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if store.Backend() != tasks.BackendJetStream {
		t.Fatalf("records in %s, want jetstream", store.Backend())
	}
	t.Cleanup(func() { store.Close() })
	svc, err := frontend.New(nc, frontend.Config{Local: "a", Check: g.CheckTask, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := svc.WaitNodes(ctx, func(ns []registry.Node) bool { return len(ns) == len(f.nodes) }); err != nil {
		t.Fatal(err)
	}
	f.c = inProcessClient(t, svc, callBudget, h.ClientURL())
	f.progress = newProgressLog(f.c)
	f.short = inProcessClient(t, svc, shortBudget, h.ClientURL())
	return f
}

func inProcessClient(t testing.TB, svc *frontend.Service, budget time.Duration, url string) *client.Client {
	t.Helper()
	srv, err := New(Config{Service: svc, SyncBudget: budget, Server: url, ProgressInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.NewInProcessClient(srv.MCP())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	initialize(t, c)
	return c
}

func TestInProcess(t *testing.T) {
	f := newInProcess(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, f) })
	}
}

// TestParallelSpreadsOverAllNodes: 20 commands over 3 nodes come back in
// input order, use every node, and identical outputs are grouped.
func TestParallelSpreadsOverAllNodes(t *testing.T) {
	f := newInProcess(t)
	cmds := make([]any, 20)
	for i := range cmds {
		out := "same"
		if i == 5 {
			out = "odd one"
		}
		cmds[i] = fmt.Sprintf("sleep 0.3; echo %s; echo n%d >/dev/null", out, i+1)
	}
	v := ok[ParallelView](t, call(t, f.c, ToolParallelExecute, map[string]any{"commands": cmds}))
	if len(v.Results) != 20 || v.Commands != 20 {
		t.Fatalf("%d results for 20 commands", len(v.Results))
	}
	used := map[string]bool{}
	for i, r := range v.Results {
		if r.Number != i+1 || r.Command != cmds[i] || r.State != "done" || r.ExitCode == nil || *r.ExitCode != 0 || r.TaskID == "" {
			t.Fatalf("result %d = %+v", i, r)
		}
		used[r.Node] = true
	}
	if len(used) != 3 || !slices.Equal(v.Nodes, f.nodes) {
		t.Fatalf("nodes used %v (view %v), want all of %v", used, v.Nodes, f.nodes)
	}
	if len(v.Groups) != 2 || v.Groups[0].Commands != "1-5,7-20" || v.Groups[1].Commands != "6" ||
		v.Groups[0].Stdout.Text != "same\n" || v.Groups[1].Stdout.Text != "odd one\n" {
		t.Fatalf("groups = %+v", v.Groups)
	}
	if v.Results[5].Group != 2 || v.Results[0].Group != 1 {
		t.Errorf("group numbers: %d, %d", v.Results[0].Group, v.Results[5].Group)
	}
	if len(v.ExitCodes) != 1 || v.ExitCodes[0] != (ExitCount{Code: 0, Count: 20}) {
		t.Errorf("exit codes = %+v", v.ExitCodes)
	}
	if want := "commands 1-5,7-20 (nodes "; !strings.Contains(v.Summary, want) || !strings.Contains(v.Summary, "command 6 (node ") {
		t.Errorf("summary lacks %q:\n%s", want, v.Summary)
	}
}

// TestMemoryRecordsSaidPlainly: on a server without JetStream the records
// fall back to memory, and cluster_status and unknown task ids say what that
// means.
func TestMemoryRecordsSaidPlainly(t *testing.T) {
	h, err := hub.Start(hub.Config{DontListen: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	nc, err := nats.Connect("", h.InProcess())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	store, err := tasks.Open(context.Background(), nc, tasks.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc, err := frontend.New(nc, frontend.Config{NoSync: true, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	c := inProcessClient(t, svc, callBudget, "embedded")
	r := call(t, c, ToolClusterStatus, nil)
	v := ok[ClusterView](t, r)
	if v.Records.Backend != "memory" || !strings.Contains(v.Records.Note, "do not outlive this MCP server") || len(v.Nodes) != 0 {
		t.Fatalf("cluster_status = %+v", v)
	}
	if !strings.Contains(text(r), "no nodes") {
		t.Errorf("text:\n%s", text(r))
	}
	failed(t, call(t, c, ToolTaskStatus, map[string]any{"task_id": "fromanothersession"}), "do not outlive this MCP server")
	failed(t, call(t, c, ToolClusterStatus, map[string]any{"verbose": true}), `unknown argument "verbose"; this tool takes no arguments`)
}
