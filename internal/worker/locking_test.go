package worker_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/locks"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

// holdLock takes lock spec from outside any node and returns its lease.
func holdLock(t *testing.T, s *locks.Store, spec, owner string) *locks.Lease {
	t.Helper()
	sp, err := locks.ParseSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Acquire(context.Background(), sp, owner, locks.Info{Node: "outside"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Release(context.Background()) })
	return l
}

// TestLockWaitUsesNoSlot: a task waiting for its lock is accepted and
// says what it waits for and how many are ahead, while taking no slot:
// another task runs on the node's one slot meanwhile. Once the lock is
// free it starts.
func TestLockWaitUsesNoSlot(t *testing.T) {
	h := startJSHub(t)
	st := openLocks(t, h)
	w := fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{Slots: 1, Locks: openLocks(t, h)})
	holder := holdLock(t, st, "build", "outside")

	a := newClient(t, h)
	a.send(&wire.Task{ID: "waits", Command: "echo got it", TaskV2: wire.TaskV2{Locks: []string{"build"}}})
	if ack := a.ack(); ack.Status != wire.AckAccepted || ack.Queued != "waiting for lock build" {
		t.Fatalf("ack = %+v, want accepted, waiting for lock build", ack)
	}
	if p := a.progress(); p.State != wire.ProgressWaiting || p.Reason != "waiting for lock build (1 ahead)" || p.Ahead != 1 || p.Lock != "build" {
		t.Fatalf("progress = %+v", p)
	}
	hb := w.Heartbeat()
	if hb.Running != 0 || !slices.Contains(hb.Tasks, "waits") {
		t.Fatalf("heartbeat while waiting: running %d, tasks %v; want no slot taken, the task listed", hb.Running, hb.Tasks)
	}
	b := newClient(t, h)
	b.send(&wire.Task{ID: "other", Command: "echo meanwhile"})
	if ack := b.ack(); ack.Status != wire.AckAccepted {
		t.Fatalf("a task while another waits for its lock on the one slot: %+v", ack)
	}
	if r := b.result(); r.Stdout != "meanwhile\n" {
		t.Fatalf("other result = %+v", r)
	}
	q, err := st.Get(context.Background(), "build")
	if err != nil || len(q.Waiters()) != 1 || q.Waiters()[0].Owner != "waits" || q.Waiters()[0].Node != "n1" || q.Waiters()[0].What != "echo got it" {
		t.Fatalf("lock queue = %+v, %v", q, err)
	}
	if err := holder.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p := a.progress(); p.State != wire.ProgressStarted {
		t.Fatalf("progress after the release = %+v, want started", p)
	}
	if r := a.result(); r.Error != wire.ErrNone || r.Stdout != "got it\n" {
		t.Fatalf("result = %+v", r)
	}
	fabrictest.Eventually(t, 10*time.Second, "condition", func() bool {
		q, _ := st.Get(context.Background(), "build")
		return len(q.Entries) == 0
	})
}

// TestLockTimeout: a task that waits past its lock timeout ends with
// lock_timeout, never started, and leaves the queue.
func TestLockTimeout(t *testing.T) {
	h := startJSHub(t)
	st := openLocks(t, h)
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{Locks: openLocks(t, h)})
	holdLock(t, st, "deploy", "outside")
	c := newClient(t, h)
	c.send(&wire.Task{ID: "impatient", Command: "echo never", Timeout: wire.Duration(time.Second),
		TaskV2: wire.TaskV2{Locks: []string{"deploy"}, LockTimeout: wire.Duration(500 * time.Millisecond)}})
	if ack := c.ack(); ack.Status != wire.AckAccepted {
		t.Fatalf("ack = %+v", ack)
	}
	r := c.result()
	if r.Error != wire.ErrLockTimeout || !strings.Contains(r.Message, "waited 500ms (its lock timeout) for lock deploy, 1 ahead; it never started") || !r.Started.IsZero() {
		t.Fatalf("result = %+v, want lock_timeout", r)
	}
	q, _ := st.Get(context.Background(), "deploy")
	if _, still := q.Find("impatient"); still {
		t.Fatalf("the task that gave up is still queued: %+v", q)
	}
}

// TestLockWaitsNeverCountAgainstTheTimeout: a task with a timeout shorter
// than its wait for the lock runs once it has the lock.
func TestLockWaitsNeverCountAgainstTheTimeout(t *testing.T) {
	h := startJSHub(t)
	st := openLocks(t, h)
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{Locks: openLocks(t, h)})
	holder := holdLock(t, st, "slow", "outside")
	c := newClient(t, h)
	c.send(&wire.Task{ID: "patient", Command: "sleep 0.2; echo ran", Timeout: wire.Duration(time.Second),
		TaskV2: wire.TaskV2{Locks: []string{"slow"}}})
	c.progress()
	time.Sleep(1500 * time.Millisecond) // not a synchronisation: the wait must outlast the task's timeout
	if err := holder.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := c.result(); r.Error != wire.ErrNone || r.Stdout != "ran\n" {
		t.Fatalf("result = %+v, want it ran", r)
	}
}

// TestCancelWhileWaitingForLock and TestDrainWhileWaitingForLock: a task
// stopped before it got its lock never runs, and says so.
func TestCancelWhileWaitingForLock(t *testing.T) {
	h := startJSHub(t)
	st := openLocks(t, h)
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{Locks: openLocks(t, h)})
	holdLock(t, st, "x", "outside")
	c := newClient(t, h)
	c.send(&wire.Task{ID: "cancelme", Command: "touch never", TaskV2: wire.TaskV2{Locks: []string{"x"}}})
	c.progress()
	if _, err := c.nc.Request("fabric.cancel.n1", []byte("cancelme"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	r := c.result()
	if r.Error != wire.ErrCancelled || !strings.Contains(r.Message, "it never started") {
		t.Fatalf("result = %+v", r)
	}
}

func TestDrainWhileWaitingForLock(t *testing.T) {
	h := startJSHub(t)
	st := openLocks(t, h)
	w := fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{Locks: openLocks(t, h)})
	holdLock(t, st, "x", "outside")
	c := newClient(t, h)
	c.send(&wire.Task{ID: "drained", Command: "touch never", TaskV2: wire.TaskV2{Locks: []string{"x"}}})
	c.progress()
	if err := w.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := c.result(); r.Error != wire.ErrDraining || !strings.Contains(r.Message, "it never started") {
		t.Fatalf("result = %+v, want draining, never started", r)
	}
}

// TestLockLostKillsTheTask: a task whose node can no longer show it holds
// the lock (its key went) is killed, with lock_lost.
func TestLockLostKillsTheTask(t *testing.T) {
	h := startJSHub(t)
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{Locks: openLocks(t, h)})
	c := newClient(t, h)
	c.send(&wire.Task{ID: "victim", Command: "echo started; sleep 60", TaskV2: wire.TaskV2{Locks: []string{"gone"}}})
	if p := c.progress(); p.State != wire.ProgressStarted {
		t.Fatalf("progress = %+v", p)
	}
	// Remove its key as the hub would at the end of a lease.
	if err := purgeLockKey(t, h, "gone", "victim"); err != nil {
		t.Fatal(err)
	}
	r := c.result()
	if r.Error != wire.ErrLockLost || !strings.Contains(r.Message, "lost lock gone") {
		t.Fatalf("result = %+v, want lock_lost", r)
	}
}

// TestLockRefusals: a bad lock is a bad request; a lock on a hub without
// JetStream fails without running the command, saying why.
func TestLockRefusals(t *testing.T) {
	h := startJSHub(t)
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{Name: "n1"})
	for _, tc := range []struct {
		locks []string
		says  string
	}{
		{[]string{"bad name"}, "letters, digits"},
		{[]string{"a", "a:2"}, "named twice"},
	} {
		c := newClient(t, h)
		c.send(&wire.Task{Command: "true", TaskV2: wire.TaskV2{Locks: tc.locks}})
		if a := c.ack(); a.Status != wire.AckRejected || a.Error != wire.ErrBadRequest || !strings.Contains(a.Reason, tc.says) {
			t.Errorf("locks %v: ack %+v, want bad_request saying %q", tc.locks, a, tc.says)
		}
	}
	plain := fabrictest.StartHub(t, hub.Config{}) // no JetStream
	fabrictest.StartWorker(t, fabrictest.Connect(t, plain.ClientURL()), worker.Config{Name: "n1"})
	c := newClient(t, plain)
	c.send(&wire.Task{Command: "echo ran", TaskV2: wire.TaskV2{Locks: []string{"fine"}}})
	if r := c.result(); r.Error != wire.ErrStartFailed || !strings.Contains(r.Message, "locks need JetStream on the hub") || r.Stdout != "" {
		t.Fatalf("lock on a hub without JetStream: %+v", r)
	}
}

// TestLockStoreOpenedOnFirstUse: a node given no lock store opens the
// hub's when a task first asks for a lock.
func TestLockStoreOpenedOnFirstUse(t *testing.T) {
	h := startJSHub(t)
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{})
	c := newClient(t, h)
	c.send(&wire.Task{Command: "echo locked", TaskV2: wire.TaskV2{Locks: []string{"first"}}})
	if r := c.result(); r.Error != wire.ErrNone || r.Stdout != "locked\n" {
		t.Fatalf("result = %+v", r)
	}
}

// TestLockedTasksOnTwoNodesNeverOverlap: six tasks taking build:2 on two
// nodes, each command writing when it starts and ends: never more than
// two run at once, and all six ran.
func TestLockedTasksOnTwoNodesNeverOverlap(t *testing.T) {
	h := startJSHub(t)
	dir := t.TempDir()
	for _, name := range []string{"n1", "n2"} {
		fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{Name: name, Slots: 4, Locks: openLocks(t, h)})
	}
	var clients []*client
	for i := range 6 {
		c := newClient(t, h)
		node := []string{"n1", "n2"}[i%2]
		msg, _ := wire.NewMsg("fabric.task.linux.amd64.any."+node, &wire.Task{
			Command: fabrictest.Stamped(dir, fmt.Sprint(i), "sleep 0.3"),
			TaskV2:  wire.TaskV2{Locks: []string{"build:2"}}})
		msg.Reply = c.sub.Subject
		if err := c.nc.PublishMsg(msg); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	for i, c := range clients {
		if r := c.result(); r.Error != wire.ErrNone || r.ExitCode != 0 {
			t.Fatalf("task %d: %+v", i, r)
		}
	}
	most := fabrictest.MostAtOnce(fabrictest.Spans(t, dir))
	if most > 2 {
		t.Fatalf("%d tasks held build:2 at once", most)
	}
	t.Logf("at most %d of the 6 ran at once", most)
}

// purgeLockKey removes owner's key of lock as the hub does at the end of
// its lease.
func purgeLockKey(t *testing.T, h *hub.Hub, lock, owner string) error {
	js, err := jetstream.New(fabrictest.Connect(t, h.ClientURL()))
	if err != nil {
		return err
	}
	kv, err := js.KeyValue(context.Background(), locks.DefaultBucket)
	if err != nil {
		return err
	}
	return kv.Purge(context.Background(), lock+"."+owner)
}
