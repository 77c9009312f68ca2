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

	"github.com/fabric-run/fabric/internal/router"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

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

func run(t *testing.T, s *Service, req Request) *Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := s.Run(ctx, req, nil)
	if err != nil {
		t.Fatalf("Run(%q): %v", req.Command, err)
	}
	return st
}

// withReq is cmd(command) with the explicit requirements r.
func withReq(command string, r wire.Requirements) Request {
	req := cmd(command)
	req.Requires = r
	return req
}

func TestLeastLoadedMatchIsChosen(t *testing.T) {
	c := newCluster(t, Config{}, threeKinds()...)
	st := run(t, c.svc, cmd("make --version >/dev/null 2>&1; echo ran"))
	if st.Record.Node != "idle" || st.Result.Stdout != "ran\n" {
		t.Fatalf("ran on %s (%s): %+v", st.Record.Node, st.Record.Reason, st.Result)
	}
	if !strings.Contains(st.Record.Reason, "least loaded") {
		t.Errorf("reason %q", st.Record.Reason)
	}
}

func TestFiltersRouteToTheRightNode(t *testing.T) {
	c := newCluster(t, Config{}, threeKinds()...)
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"os", withReq("echo hi", wire.Requirements{OS: "macos"}), "mac"},
		{"arch", withReq("echo hi", wire.Requirements{Arch: "x86_64"}), "idle"},
		{"capability", withReq("echo hi", wire.Requirements{Capabilities: []string{"docker"}}), "builder"},
		{"docker build only to docker", cmd("docker build . 2>/dev/null; echo built"), "builder"},
		{"explicit node", withReq("echo hi", wire.Requirements{Node: "builder"}), "builder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := run(t, c.svc, tt.req)
			if st.Record.Node != tt.want || st.Result.Node != tt.want {
				t.Fatalf("ran on %s, want %s (%s)", st.Record.Node, tt.want, st.Record.Reason)
			}
		})
	}
}

func TestLightCommandStaysLocal(t *testing.T) {
	// The local node is the most loaded one; a light command stays anyway.
	c := newCluster(t, Config{Local: "builder"}, threeKinds()...)
	st := run(t, c.svc, cmd("ls / >/dev/null; pwd"))
	if st.Record.Node != "builder" || !strings.Contains(st.Record.Reason, "light") {
		t.Fatalf("light command ran on %s: %s", st.Record.Node, st.Record.Reason)
	}
	// A heavy one leaves it (70% cpu is over the 40% threshold).
	st = run(t, c.svc, cmd("make --version >/dev/null 2>&1; true"))
	if st.Record.Node == "builder" {
		t.Fatalf("heavy command stayed on the overloaded local node: %s", st.Record.Reason)
	}
}

// TestBatchSpreadsEvenly: 12 commands over 3 idle equal nodes land 4/4/4.
// Each command waits until all 12 run, so every placement happens while the
// others are in flight.
func TestBatchSpreadsEvenly(t *testing.T) {
	idle := worker.FixedLoad{CPUs: 4}
	c := newCluster(t, Config{}, node("a", "linux", "amd64", idle), node("b", "linux", "amd64", idle), node("c", "linux", "amd64", idle))
	dir := t.TempDir()
	command := fmt.Sprintf(`touch %s/$$-$RANDOM; while [ $(ls %s | wc -l) -lt 12 ]; do sleep 0.02; done`, dir, dir)
	reqs := make([]Request, 12)
	for i := range reqs {
		reqs[i] = Request{Task: wire.Task{Command: command, Timeout: wire.Duration(30 * time.Second)}}
	}
	sts, err := c.svc.Batch(context.Background(), reqs, BatchOptions{Budget: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for i, st := range sts {
		if st.State != tasks.StateDone || st.Result.ExitCode != 0 {
			t.Fatalf("item %d: %s %+v", i, st.State, st.Result)
		}
		count[st.Record.Node]++
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
	go c.svc.Run(ctx, withReq("sleep 30", wire.Requirements{Node: "small"}), nil,
		OnAccepted(func(_, n string) { started <- n }))
	<-started
	st := run(t, c.svc, cmd("echo where"))
	if st.Record.Node != "big" {
		t.Fatalf("ran on %s: %s", st.Record.Node, st.Record.Reason)
	}
	if !strings.Contains(st.Record.Reason, "small full (1/1 slots)") {
		t.Errorf("reason %q does not say small is full", st.Record.Reason)
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
	st := run(t, c.svc, cmd("echo hi"))
	if st.Record.Node != "real" || st.Result.Stdout != "hi\n" {
		t.Fatalf("ran on %s: %+v", st.Record.Node, st.Result)
	}
	if len(st.Declined) != 1 || !strings.Contains(st.Declined[0], "ghost: no responders") {
		t.Fatalf("declined = %v", st.Declined)
	}
}

func TestNoMatchIsAClearErrorAtOnce(t *testing.T) {
	c := newCluster(t, Config{}, threeKinds()...)
	start := time.Now()
	_, err := c.svc.Run(context.Background(), cmd("nvidia-smi"), nil)
	if !errors.Is(err, router.ErrNoMatch) || !strings.Contains(err.Error(), "caps=gpu") || !strings.Contains(err.Error(), "idle lacks gpu") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > time.Second {
		t.Fatalf("took %s", time.Since(start))
	}
	_, err = c.svc.Run(context.Background(), withReq("ls", wire.Requirements{Node: "nope"}), nil)
	if !errors.Is(err, router.ErrUnknownNode) {
		t.Fatalf("err = %v", err)
	}
}

func TestStreamingOutputAndExitCode(t *testing.T) {
	c := newCluster(t, Config{}, node("n", "linux", "amd64", worker.FixedLoad{CPUs: 4}))
	var mu sync.Mutex
	var got []string
	st, err := c.svc.Run(context.Background(), cmd("echo one; sleep 0.1; echo two >&2; exit 7"),
		func(s wire.Stream, p []byte) { mu.Lock(); got = append(got, s.String()+":"+string(p)); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	if st.Result.ExitCode != 7 || strings.Join(got, "") != "stdout:one\nstderr:two\n" {
		t.Fatalf("exit %d, streamed %q", st.Result.ExitCode, got)
	}
}

// TestCancelKillsTheTask: ending the submitter's context cancels the task
// on its node, and the result says so.
func TestCancelKillsTheTask(t *testing.T) {
	c := newCluster(t, Config{}, node("n", "linux", "amd64", worker.FixedLoad{CPUs: 4}))
	ctx, cancel := context.WithCancel(context.Background())
	st, err := c.svc.Run(ctx, cmd("echo started; sleep 300"), func(wire.Stream, []byte) { cancel() })
	if err != nil {
		t.Fatal(err)
	}
	if st.Result.Error != wire.ErrCancelled {
		t.Fatalf("result = %+v", st.Result)
	}
}

func TestNodeLostMidTask(t *testing.T) {
	c := newCluster(t, Config{}, worker.Config{Name: "doomed", OS: "linux", Arch: "amd64", HeartbeatInterval: 100 * time.Millisecond})
	st, err := c.svc.Run(context.Background(), cmd("echo go; sleep 300"),
		// The node's connection dies mid-task: no result, no heartbeats.
		func(wire.Stream, []byte) { go c.conns["doomed"].Close() })
	if err != nil {
		t.Fatal(err)
	}
	if st.Result.Error != wire.ErrNodeLost || !strings.Contains(st.Result.Message, "stopped heartbeating") {
		t.Fatalf("result = %+v", st.Result)
	}
}

// TestWaitsForAFreeSlot: with every matching node busy, a command waits and
// runs when a slot frees, rather than failing.
func TestWaitsForAFreeSlot(t *testing.T) {
	c := newCluster(t, Config{}, worker.Config{Name: "one", OS: "linux", Arch: "amd64", Slots: 1})
	dir := t.TempDir()
	flag := filepath.Join(dir, "go")
	started := make(chan string, 1)
	go c.svc.Run(context.Background(), cmd(fmt.Sprintf("while [ ! -e %s ]; do sleep 0.02; done", flag)), nil,
		OnAccepted(func(_, n string) { started <- n }))
	<-started
	noWait := cmd("true")
	noWait.NoWait = true
	if _, err := c.svc.Run(context.Background(), noWait, nil); !errors.Is(err, router.ErrAllBusy) {
		t.Fatalf("NoWait err = %v", err)
	}
	done := make(chan *Status, 1)
	go func() { done <- run(t, c.svc, cmd("echo second")) }()
	os.WriteFile(flag, nil, 0o644)
	select {
	case st := <-done:
		if st.Result.Stdout != "second\n" {
			t.Fatalf("result = %+v", st.Result)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("second command never ran")
	}
}

// TestRefusalStopsTheFallThrough: a node that refuses a task by policy
// (its guard) ends the offer there: the next node would refuse it too, so
// it is not offered the task, and the error says who refused it and why.
func TestRefusalStopsTheFallThrough(t *testing.T) {
	refuse := func(*wire.Task) error { return errors.New("not on this node, by policy") }
	c := newCluster(t, Config{},
		worker.Config{Name: "strict", OS: "linux", Arch: "amd64", Check: refuse},
		worker.Config{Name: "other", OS: "linux", Arch: "amd64", Load: worker.FixedLoad{CPUs: 4, Load1: 3}},
	)
	mark := filepath.Join(t.TempDir(), "ran")
	st, err := c.svc.Run(context.Background(), cmd("echo ran >> "+mark), nil)
	if !errors.Is(err, wire.ErrNodeRefused) || ErrorKind(err) != wire.ErrRejected ||
		!strings.Contains(err.Error(), "task refused by strict: not on this node, by policy") {
		t.Fatalf("err = %v", err)
	}
	if st.State != tasks.StateFailed || st.Record.Error != wire.ErrRejected || len(st.Declined) != 1 || !strings.HasPrefix(st.Declined[0], "strict: ") {
		t.Fatalf("status %+v, declined %q", st.Record, st.Declined)
	}
	if _, err := os.Stat(mark); !os.IsNotExist(err) {
		t.Fatalf("the task ran somewhere: %v", err)
	}
}
