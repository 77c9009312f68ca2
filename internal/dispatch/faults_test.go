package dispatch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

// ranLines returns the lines of a marker file each run appends to.
func ranLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// TestDrainingNodeFallsThrough: a node that is shutting down answers
// draining; the task runs on the next node, once.
func TestDrainingNodeFallsThrough(t *testing.T) {
	_, conn := setup(t)
	a := startNode(t, conn(), worker.Config{Name: "a", Slots: 2, DrainGrace: time.Minute})
	startNode(t, conn(), worker.Config{Name: "b", Slots: 2})
	d, err := New(conn(), nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	// a drains while it finishes a long task, so it stays draining.
	accepted := make(chan string, 1)
	longDone := make(chan *Outcome, 1)
	go func() {
		out, _ := d.Dispatch(context.Background(), &wire.Task{ID: "long", Command: "sleep 60"}, []Target{target("a")}, false,
			Hooks{OnAccepted: func(n, _ string) { accepted <- n }})
		longDone <- out
	}()
	<-accepted
	drained := make(chan error, 1)
	go func() { drained <- a.Drain(context.Background()) }()
	deadline := time.Now().Add(10 * time.Second)
	for a.Heartbeat().State != wire.StateDraining {
		if time.Now().After(deadline) {
			t.Fatal("node a never started draining")
		}
		time.Sleep(5 * time.Millisecond)
	}

	mark := filepath.Join(t.TempDir(), "ran")
	task := &wire.Task{ID: "t", Command: "echo t >> " + mark + "; echo hi"}
	out, err := d.Dispatch(context.Background(), task, []Target{target("a"), target("b")}, false, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Node != "b" || out.Result.Stdout != "hi\n" || len(out.Declined) != 1 || !strings.HasPrefix(out.Declined[0], "a: draining") {
		t.Fatalf("outcome = %+v", out)
	}
	if got := ranLines(t, mark); len(got) != 1 {
		t.Fatalf("task ran %d times", len(got))
	}

	// Let a finish draining.
	if err := d.Cancel(context.Background(), "a", "long", "test over"); err != nil {
		t.Fatal(err)
	}
	if out := <-longDone; out.Result == nil || out.Result.Error != wire.ErrCancelled {
		t.Fatalf("long task: %+v", out)
	}
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
}

// TestLateAckDeadlineFallsThrough: a node whose clock the registry knows to
// be an hour behind gets a task whose ack deadline, in its clock, has
// passed. It refuses it as late (it cannot tell a lagging clock from a task
// that waited in its connection), which, like busy, sends the task on to the
// next node; the task runs once.
func TestLateAckDeadlineFallsThrough(t *testing.T) {
	_, conn := setup(t)
	behind := startNode(t, conn(), worker.Config{Name: "behind"})
	b := startNode(t, conn(), worker.Config{Name: "b"})
	reg := registry.New(nil, registry.Config{})
	hb := behind.Heartbeat()
	hb.Time = hb.Time.Add(-time.Hour)
	reg.Observe(hb)
	reg.Observe(b.Heartbeat())
	d, err := New(conn(), reg, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	mark := filepath.Join(t.TempDir(), "ran")
	task := &wire.Task{ID: "t", Command: "echo t >> " + mark}
	out, err := d.Dispatch(context.Background(), task, []Target{target("behind"), target("b")}, false, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Node != "b" || len(out.Declined) != 1 || !strings.HasPrefix(out.Declined[0], "behind: late: ") {
		t.Fatalf("outcome = %+v", out)
	}
	if got := ranLines(t, mark); len(got) != 1 {
		t.Fatalf("task ran %d times", len(got))
	}
}
