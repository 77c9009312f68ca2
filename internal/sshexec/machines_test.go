//go:build unix

package sshexec

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/inventory"
	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/wire"
)

// TestMachinesKeepRowsAndRunTasks: the SSH executor keeps each machine's
// row in the registry from its probes (known at once as not probed yet,
// then ready or unreachable with why), runs a task on a reachable one
// telling the front end it started before any of its output, and says a
// task never started on an unreachable one with the executors' common
// error, marking the machine unreachable.
func TestMachinesKeepRowsAndRunTasks(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	cfg := sshd.testConfig(t)
	cfg.Retries = 0
	reg := registry.New(nil, registry.Config{})
	m, err := NewMachines(MachinesConfig{SSH: cfg, Nodes: []inventory.Node{
		{Name: "box", Host: "127.0.0.1", Port: sshd.Port, Slots: 2, Capabilities: []string{"raid"}},
		{Name: "dead", Host: "127.0.0.1", Port: freePort(t), Slots: 1},
	}}, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if n, ok := reg.Get("box"); !ok || n.Via != wire.ViaSSH || n.Health != registry.HealthUnreachable || n.Reason != "not probed yet" {
		t.Fatalf("box before a probe = %+v", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m.Refresh(ctx)
	box, _ := reg.Get("box")
	if box.Health != registry.HealthReady || box.CPUs == 0 || box.OS != "linux" || box.Seen.IsZero() ||
		!strings.Contains(strings.Join(box.Capabilities, ","), "raid") {
		t.Fatalf("box probed = %+v", box)
	}
	if n, _ := reg.Get("dead"); n.Health != registry.HealthUnreachable || !strings.Contains(n.Reason, "connection refused") {
		t.Fatalf("dead probed = %+v", n)
	}

	var mu sync.Mutex
	var events []string
	note := func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }
	running := -1
	res, err := m.Execute(ctx, &wire.Task{ID: "t1", Command: "echo out; exit 3"}, &box, wire.Hooks{
		OnAccepted: func(instance string) {
			note("accepted " + instance)
			n, _ := reg.Get("box")
			running = n.Running
		},
		OnOutput: func(_ wire.Stream, p []byte) { note("output " + string(p)) },
	})
	if err != nil || res.ExitCode != 3 || res.Stdout != "out\n" || res.Node != "box" {
		t.Fatalf("Execute on box: %+v, %v", res, err)
	}
	if len(events) != 2 || events[0] != "accepted " || events[1] != "output out\n" || running != 1 {
		t.Fatalf("events %q, running while it ran %d", events, running)
	}
	if n, _ := reg.Get("box"); n.Running != 0 {
		t.Fatalf("running after = %d", n.Running)
	}

	dead, _ := reg.Get("dead")
	accepted := false
	_, err = m.Execute(ctx, &wire.Task{ID: "t2", Command: "true"}, &dead, wire.Hooks{OnAccepted: func(string) { accepted = true }})
	var declined *wire.Declined
	if !errors.As(err, &declined) || !errors.Is(err, wire.ErrNotStarted) || !errors.Is(err, ErrUnreachable) || declined.Final || accepted {
		t.Fatalf("Execute on dead: %v (accepted %v)", err, accepted)
	}
	if !strings.HasPrefix(err.Error(), "dead: ssh dead (") {
		t.Errorf("declined reads %q", err)
	}
	unknown := registry.Node{Heartbeat: wire.Heartbeat{Node: "elsewhere"}}
	if _, err := m.Execute(ctx, &wire.Task{ID: "t3", Command: "true"}, &unknown, wire.Hooks{}); !errors.Is(err, wire.ErrNotStarted) {
		t.Fatalf("Execute on a machine not in the inventory: %v", err)
	}
}
