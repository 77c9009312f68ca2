package dispatch

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/locks"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

// TestLockWaitIsNotCountedAgainstTheTimeout: a task that waits for its lock
// longer than its timeout plus the result grace is followed to its end, not
// given up as lost, and its progress is passed on in order.
func TestLockWaitIsNotCountedAgainstTheTimeout(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{JetStream: true})
	conn := func() *nats.Conn { return fabrictest.Connect(t, h.ClientURL()) }
	startNode(t, conn(), worker.Config{Name: "a"})
	st, err := locks.Open(context.Background(), conn(), locks.Config{})
	if err != nil {
		t.Fatal(err)
	}
	holder, err := st.Acquire(context.Background(), locks.Spec{Name: "l", Max: 1}, "outside", locks.Info{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(conn(), nil, Config{ResultGrace: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var states []string
	waiting := make(chan struct{}, 4)
	go func() {
		<-waiting
		<-waiting                          // the ack's, then the node's with its place
		time.Sleep(800 * time.Millisecond) // not a synchronisation: the wait must outlast timeout plus grace
		holder.Release(context.Background())
	}()
	task := &wire.Task{ID: "t", Command: "echo ran", Timeout: wire.Duration(300 * time.Millisecond), TaskV2: wire.TaskV2{Locks: []string{"l"}}}
	res, err := d.Execute(context.Background(), task, target("a"), wire.Hooks{OnProgress: func(p *wire.Progress) {
		states = append(states, p.State+": "+p.Reason)
		if p.State == wire.ProgressWaiting {
			waiting <- struct{}{}
		}
	}})
	if err != nil || res.Error != wire.ErrNone || res.Stdout != "ran\n" {
		t.Fatalf("result %+v, %v; want it ran", res, err)
	}
	want := "waiting: waiting for lock l|waiting: waiting for lock l (1 ahead)|started: "
	if got := strings.Join(states, "|"); got != want {
		t.Fatalf("progress %q, want %q", got, want)
	}
}
