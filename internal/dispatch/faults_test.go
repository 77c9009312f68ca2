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
	accepted := make(chan struct{}, 1)
	longDone := make(chan *wire.Result, 1)
	go func() {
		res, _ := d.Execute(context.Background(), &wire.Task{ID: "long", Command: "sleep 60"}, target("a"),
			wire.Hooks{OnAccepted: func(string) { accepted <- struct{}{} }})
		longDone <- res
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
	_, err = d.Execute(context.Background(), task, target("a"), wire.Hooks{})
	if why := notStarted(t, err, "a"); !strings.HasPrefix(why, "a: draining") {
		t.Fatalf("a: %v", err)
	}
	res, err := d.Execute(context.Background(), task, target("b"), wire.Hooks{})
	if err != nil || res.Node != "b" || res.Stdout != "hi\n" {
		t.Fatalf("b: %+v, %v", res, err)
	}
	if got := ranLines(t, mark); len(got) != 1 {
		t.Fatalf("task ran %d times", len(got))
	}

	// Let a finish draining.
	if err := d.Cancel(context.Background(), "a", "long", "test over"); err != nil {
		t.Fatal(err)
	}
	if res := <-longDone; res == nil || res.Error != wire.ErrCancelled {
		t.Fatalf("long task: %+v", res)
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
	_, err = d.Execute(context.Background(), task, target("behind"), wire.Hooks{})
	if why := notStarted(t, err, "behind"); !strings.HasPrefix(why, "behind: late: ") {
		t.Fatalf("behind: %v", err)
	}
	res, err := d.Execute(context.Background(), task, target("b"), wire.Hooks{})
	if err != nil || res.Node != "b" {
		t.Fatalf("b: %+v, %v", res, err)
	}
	if got := ranLines(t, mark); len(got) != 1 {
		t.Fatalf("task ran %d times", len(got))
	}
}
