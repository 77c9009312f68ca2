package frontend

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/dispatch"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/router"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

// testCluster is an embedded hub, some in-process nodes and a front end.
type testCluster struct {
	hub     *hub.Hub
	fe      *Frontend
	workers map[string]*worker.Worker
	conns   map[string]*nats.Conn
}

func newCluster(t testing.TB, feCfg Config, nodes ...worker.Config) *testCluster {
	t.Helper()
	h, err := hub.Start(hub.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	c := &testCluster{hub: h, workers: map[string]*worker.Worker{}, conns: map[string]*nats.Conn{}}
	for _, cfg := range nodes {
		c.addNode(t, cfg)
	}
	nc := c.connect(t)
	fe, err := New(nc, feCfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := fe.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fe.Close)
	c.fe = fe
	c.waitNodes(t, len(nodes))
	return c
}

func (c *testCluster) connect(t testing.TB) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(c.hub.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func (c *testCluster) addNode(t testing.TB, cfg worker.Config) *worker.Worker {
	t.Helper()
	cfg.NoDetect = true
	if cfg.Load == nil {
		cfg.Load = worker.FixedLoad{CPUs: 4}
	}
	if cfg.Slots == 0 {
		cfg.Slots = 4
	}
	if cfg.HeartbeatInterval == 0 {
		// Long enough that a CPU-starved test run (-race, parallel
		// packages) never sees a live node go stale.
		cfg.HeartbeatInterval = time.Second
	}
	nc := c.connect(t)
	w, err := worker.New(nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	c.workers[cfg.Name] = w
	c.conns[cfg.Name] = nc
	return w
}

func (c *testCluster) waitNodes(t testing.TB, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.fe.Registry().WaitFor(ctx, func(ns []registry.Node) bool {
		ready := 0
		for _, x := range ns {
			if x.Health == registry.HealthReady {
				ready++
			}
		}
		return ready >= n
	})
	if err != nil {
		t.Fatalf("waiting for %d nodes: have %v", n, c.fe.Registry().Snapshot())
	}
}

func node(name, os, arch string, l worker.FixedLoad, caps ...string) worker.Config {
	return worker.Config{Name: name, OS: os, Arch: arch, Load: l, Capabilities: caps}
}

// threeKinds: a loaded linux docker builder, an idle linux box, a mac.
func threeKinds() []worker.Config {
	return []worker.Config{
		node("builder", "linux", "amd64", worker.FixedLoad{CPUs: 4, Load1: 3, CPUPercent: 70}, "docker", "make"),
		node("idle", "linux", "amd64", worker.FixedLoad{CPUs: 4, Load1: 0.1, CPUPercent: 2}, "make"),
		node("mac", "darwin", "arm64", worker.FixedLoad{CPUs: 8, Load1: 1, CPUPercent: 20}, "swift", "make"),
	}
}

func run(t *testing.T, fe *Frontend, req Request) *Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := fe.Run(ctx, req, Hooks{})
	if err != nil {
		t.Fatalf("Run(%q): %v", req.Command, err)
	}
	return out
}

func TestLeastLoadedMatchIsChosen(t *testing.T) {
	c := newCluster(t, Config{}, threeKinds()...)
	out := run(t, c.fe, Request{Command: "make --version >/dev/null 2>&1; echo ran"})
	if out.Node != "idle" || out.Result.Stdout != "ran\n" {
		t.Fatalf("ran on %s (%s): %+v", out.Node, out.Decision.Reason, out.Result)
	}
	if !strings.Contains(out.Decision.Reason, "least loaded") {
		t.Errorf("reason %q", out.Decision.Reason)
	}
}

func TestFiltersRouteToTheRightNode(t *testing.T) {
	c := newCluster(t, Config{}, threeKinds()...)
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"os", Request{Command: "echo hi", Requires: wire.Requirements{OS: "macos"}}, "mac"},
		{"arch", Request{Command: "echo hi", Requires: wire.Requirements{Arch: "x86_64"}}, "idle"},
		{"capability", Request{Command: "echo hi", Requires: wire.Requirements{Capabilities: []string{"docker"}}}, "builder"},
		{"docker build only to docker", Request{Command: "docker build . 2>/dev/null; echo built"}, "builder"},
		{"explicit node", Request{Command: "echo hi", Requires: wire.Requirements{Node: "builder"}}, "builder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := run(t, c.fe, tt.req)
			if out.Node != tt.want || out.Result.Node != tt.want {
				t.Fatalf("ran on %s, want %s (%s)", out.Node, tt.want, out.Decision.Reason)
			}
		})
	}
}

func TestLightCommandStaysLocal(t *testing.T) {
	// The local node is the most loaded one; a light command stays anyway.
	c := newCluster(t, Config{Local: "builder"}, threeKinds()...)
	out := run(t, c.fe, Request{Command: "ls / >/dev/null; pwd"})
	if out.Node != "builder" || !strings.Contains(out.Decision.Reason, "light") {
		t.Fatalf("light command ran on %s: %s", out.Node, out.Decision.Reason)
	}
	// A heavy one leaves it (70% cpu is over the 40% threshold).
	out = run(t, c.fe, Request{Command: "make --version >/dev/null 2>&1; true"})
	if out.Node == "builder" {
		t.Fatalf("heavy command stayed on the overloaded local node: %s", out.Decision.Reason)
	}
}

// TestBatchSpreadsEvenly: 12 commands over 3 idle equal nodes land 4/4/4.
// Each command waits until all 12 run, so every placement happens while the
// others are in flight.
func TestBatchSpreadsEvenly(t *testing.T) {
	idle := worker.FixedLoad{CPUs: 4}
	c := newCluster(t, Config{}, node("a", "linux", "amd64", idle), node("b", "linux", "amd64", idle), node("c", "linux", "amd64", idle))
	dir := t.TempDir()
	cmd := fmt.Sprintf(`touch %s/$$-$RANDOM; while [ $(ls %s | wc -l) -lt 12 ]; do sleep 0.02; done`, dir, dir)
	reqs := make([]Request, 12)
	for i := range reqs {
		reqs[i] = Request{Command: cmd, Timeout: 30 * time.Second}
	}
	items := c.fe.RunBatch(context.Background(), reqs, 0, false, nil)
	count := map[string]int{}
	for i, it := range items {
		if it.Err != nil || it.Outcome.Result.ExitCode != 0 {
			t.Fatalf("item %d: %v %+v", i, it.Err, it.Outcome.Result)
		}
		count[it.Outcome.Node]++
	}
	if count["a"] != 4 || count["b"] != 4 || count["c"] != 4 {
		t.Fatalf("spread = %v, want 4/4/4", count)
	}
}

func TestNodeAtSlotsIsSkipped(t *testing.T) {
	c := newCluster(t, Config{},
		worker.Config{Name: "small", OS: "linux", Arch: "amd64", Slots: 1, Load: worker.FixedLoad{CPUs: 4}},
		worker.Config{Name: "big", OS: "linux", Arch: "amd64", Slots: 4, Load: worker.FixedLoad{CPUs: 4, Load1: 3, CPUPercent: 60}},
	)
	// Fill "small" (the least loaded) with a long task.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan string, 1)
	go c.fe.Run(ctx, Request{Command: "sleep 30", Requires: wire.Requirements{Node: "small"}},
		Hooks{Hooks: dispatch.Hooks{OnAccepted: func(n, _ string) { started <- n }}})
	<-started
	out := run(t, c.fe, Request{Command: "echo where"})
	if out.Node != "big" {
		t.Fatalf("ran on %s: %s", out.Node, out.Decision.Reason)
	}
	if !strings.Contains(out.Decision.Reason, "small full (1/1 slots)") {
		t.Errorf("reason %q does not say small is full", out.Decision.Reason)
	}
}

// TestVanishedNodeIsSkipped: a node whose connection is gone (still in the
// table, no subscriber) gets no responders; the task runs on the next one.
func TestVanishedNodeIsSkipped(t *testing.T) {
	c := newCluster(t, Config{},
		node("ghost", "linux", "amd64", worker.FixedLoad{CPUs: 4}),
		node("real", "linux", "amd64", worker.FixedLoad{CPUs: 4, Load1: 2}),
	)
	before := c.hub.Server().NumClients()
	c.conns["ghost"].Close() // vanish without a goodbye
	// Wait until the server has dropped the connection (and its subscriptions).
	for deadline := time.Now().Add(10 * time.Second); c.hub.Server().NumClients() >= before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("server still has the ghost connection")
		}
	}
	out := run(t, c.fe, Request{Command: "echo hi"})
	if out.Node != "real" || out.Result.Stdout != "hi\n" {
		t.Fatalf("ran on %s: %+v", out.Node, out.Result)
	}
	if len(out.Declined) != 1 || !strings.Contains(out.Declined[0], "ghost: no responders") {
		t.Fatalf("declined = %v", out.Declined)
	}
}

func TestNoMatchIsAClearErrorAtOnce(t *testing.T) {
	c := newCluster(t, Config{}, threeKinds()...)
	start := time.Now()
	_, err := c.fe.Run(context.Background(), Request{Command: "nvidia-smi"}, Hooks{})
	if !errors.Is(err, router.ErrNoMatch) || !strings.Contains(err.Error(), "caps=gpu") || !strings.Contains(err.Error(), "idle lacks gpu") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > time.Second {
		t.Fatalf("took %s", time.Since(start))
	}
	_, err = c.fe.Run(context.Background(), Request{Command: "ls", Requires: wire.Requirements{Node: "nope"}}, Hooks{})
	if !errors.Is(err, router.ErrUnknownNode) {
		t.Fatalf("err = %v", err)
	}
}

func TestStreamingOutputAndExitCode(t *testing.T) {
	c := newCluster(t, Config{}, node("n", "linux", "amd64", worker.FixedLoad{CPUs: 4}))
	var mu sync.Mutex
	var got []string
	out, err := c.fe.Run(context.Background(), Request{Command: "echo one; sleep 0.1; echo two >&2; exit 7"}, Hooks{Hooks: dispatch.Hooks{
		OnOutput: func(s wire.Stream, p []byte) { mu.Lock(); got = append(got, s.String()+":"+string(p)); mu.Unlock() },
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Result.ExitCode != 7 || strings.Join(got, "") != "stdout:one\nstderr:two\n" {
		t.Fatalf("exit %d, streamed %q", out.Result.ExitCode, got)
	}
}

// TestCancelKillsTheTask: ending the submitter's context cancels the task
// on its node, and the result says so.
func TestCancelKillsTheTask(t *testing.T) {
	c := newCluster(t, Config{}, node("n", "linux", "amd64", worker.FixedLoad{CPUs: 4}))
	ctx, cancel := context.WithCancel(context.Background())
	out, err := c.fe.Run(ctx, Request{Command: "echo started; sleep 300"}, Hooks{Hooks: dispatch.Hooks{
		OnOutput: func(wire.Stream, []byte) { cancel() },
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Result.Error != wire.ErrCancelled {
		t.Fatalf("result = %+v", out.Result)
	}
}

func TestNodeLostMidTask(t *testing.T) {
	c := newCluster(t, Config{}, worker.Config{Name: "doomed", OS: "linux", Arch: "amd64", HeartbeatInterval: 100 * time.Millisecond})
	out, err := c.fe.Run(context.Background(), Request{Command: "echo go; sleep 300"}, Hooks{Hooks: dispatch.Hooks{
		// The node's connection dies mid-task: no result, no heartbeats.
		OnOutput: func(wire.Stream, []byte) { go c.conns["doomed"].Close() },
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Result.Error != wire.ErrNodeLost || !strings.Contains(out.Result.Message, "stopped heartbeating") {
		t.Fatalf("result = %+v", out.Result)
	}
}

// TestWaitsForAFreeSlot: with every matching node busy, a command waits and
// runs when a slot frees, rather than failing.
func TestWaitsForAFreeSlot(t *testing.T) {
	c := newCluster(t, Config{}, worker.Config{Name: "one", OS: "linux", Arch: "amd64", Slots: 1})
	dir := t.TempDir()
	flag := filepath.Join(dir, "go")
	started := make(chan string, 1)
	go c.fe.Run(context.Background(), Request{Command: fmt.Sprintf("while [ ! -e %s ]; do sleep 0.02; done", flag)},
		Hooks{Hooks: dispatch.Hooks{OnAccepted: func(n, _ string) { started <- n }}})
	<-started
	if _, err := c.fe.Run(context.Background(), Request{Command: "true", NoWait: true}, Hooks{}); !errors.Is(err, router.ErrAllBusy) {
		t.Fatalf("NoWait err = %v", err)
	}
	done := make(chan *Outcome, 1)
	go func() { done <- run(t, c.fe, Request{Command: "echo second"}) }()
	os.WriteFile(flag, nil, 0o644)
	select {
	case out := <-done:
		if out.Result.Stdout != "second\n" {
			t.Fatalf("result = %+v", out.Result)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("second command never ran")
	}
}
