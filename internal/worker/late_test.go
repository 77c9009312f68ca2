package worker_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

// TestLateTaskRefused: a task read after its ack deadline (the node was
// stopped with it in its connection, and the front end has sent it
// elsewhere) is refused as late and never started; one read in time runs.
func TestLateTaskRefused(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	w := fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{})
	nc := fabrictest.Connect(t, h.ClientURL())
	mark := filepath.Join(t.TempDir(), "ran")
	offer := func(id string, by time.Time) wire.Ack {
		t.Helper()
		msg, err := wire.NewMsg("fabric.task.linux.amd64.any.n1", &wire.Task{ID: id, Command: "echo " + id + " >> " + mark})
		if err != nil {
			t.Fatal(err)
		}
		wire.SetAckBy(msg, by)
		reply, err := nc.RequestMsg(msg, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var a wire.Ack
		if err := wire.Decode(reply, &a); err != nil {
			t.Fatalf("first reply to %s: %v", id, err)
		}
		return a
	}

	a := offer("late", time.Now().Add(-1500*time.Millisecond))
	if a.Status != wire.AckLate || a.Error != wire.ErrLate || !strings.Contains(a.Reason, "after its ack deadline") {
		t.Fatalf("late task: ack %+v", a)
	}
	if hb := w.Heartbeat(); hb.Running != 0 {
		t.Fatalf("late task admitted: %d running", hb.Running)
	}

	if a := offer("timely", time.Now().Add(time.Minute)); a.Status != wire.AckAccepted {
		t.Fatalf("timely task: ack %+v", a)
	}
	fabrictest.Eventually(t, 10*time.Second, "the timely task's marker", func() bool {
		b, _ := os.ReadFile(mark)
		if strings.Contains(string(b), "late") {
			t.Fatalf("marker = %q, want the timely task alone", b)
		}
		return string(b) == "timely\n"
	})
}
