package frontend

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

// TestWaitEndsWhenTheNodeDies: a submitted task's node dies (its connection
// drops with no goodbye) while nobody follows the task. Another front end
// waiting for it does not wait forever: the wait ends lost once the node has
// missed its heartbeats, and the loss is recorded for every reader.
func TestWaitEndsWhenTheNodeDies(t *testing.T) {
	e := newEnv(t)
	// The worker closes (killing the task's process group) when the test
	// ends, after its connection has died.
	e.addNode(t, worker.Config{Name: "doomed", OS: "linux", Arch: "amd64", HeartbeatInterval: 300 * time.Millisecond})
	nodeNC := e.conns["doomed"]

	submitter := e.service(t, Config{})
	bg := cmd("sleep 600")
	bg.Background = true
	st, err := submitter.Submit(context.Background(), bg)
	if err != nil {
		t.Fatal(err)
	}
	id := st.Record.ID
	submitter.Close() // the submitter leaves, as fabric submit does

	waiter := e.service(t, Config{})
	done := make(chan *Status, 1)
	go func() {
		st, err := waiter.Wait(context.Background(), id, nil, time.Minute)
		if err != nil {
			t.Error(err)
		}
		done <- st
	}()
	nodeNC.Close() // the node dies: no result, no goodbye
	var got *Status
	select {
	case got = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Wait did not end after the node died")
	}
	if got == nil || got.State != tasks.StateLost || got.Result == nil || got.Result.Error != wire.ErrNodeLost || !strings.Contains(got.Note, "doomed") {
		t.Fatalf("Wait = %+v", got)
	}
	if st, err := waiter.Status(context.Background(), id); err != nil || st.State != tasks.StateLost {
		t.Fatalf("recorded state = %+v, %v", st, err)
	}
}
