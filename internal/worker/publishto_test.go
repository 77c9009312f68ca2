package worker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

// TestBadPublishSubjectRefused: a task naming a result or output subject
// the server would refuse (5 KB: past its max control line) is refused as a
// bad request. Before, the node took it, published the result there, and the
// server closed the node's connection.
func TestBadPublishSubjectRefused(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	nodeNC := fabrictest.Connect(t, h.ClientURL())
	dropped := make(chan struct{}, 8)
	nodeNC.SetDisconnectErrHandler(func(*nats.Conn, error) { dropped <- struct{}{} })
	w, err := worker.New(nodeNC, worker.Config{Name: "n1", OS: "linux", Arch: "amd64", NoDetect: true, HeartbeatInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	nc := fabrictest.Connect(t, h.ClientURL())
	long := strings.Repeat("x", 5000)
	for _, task := range []*wire.Task{
		{ID: "r", Command: "echo hi", ResultTo: long},
		{ID: "o", Command: "echo hi", OutputTo: long},
		{ID: "w", Command: "echo hi", ResultTo: "results.>"},
	} {
		msg, _ := wire.NewMsg("fabric.task.linux.amd64.any.n1", task)
		reply, err := nc.RequestMsg(msg, 5*time.Second)
		if err != nil {
			t.Fatalf("task %s: %v", task.ID, err)
		}
		var res wire.Result
		if err := wire.Decode(reply, &res); err != nil || res.Error != wire.ErrBadRequest || !strings.Contains(res.Message, "invalid subject to publish to") {
			t.Fatalf("task %s: reply %+v, %v", task.ID, res, err)
		}
	}
	// Still connected, still serving.
	if res := request(t, nc, "fabric.task.linux.amd64.any.n1", []byte("echo alive")); res.Stdout != "alive\n" {
		t.Fatalf("after: %+v", res)
	}
	select {
	case <-dropped:
		t.Fatal("the node lost its connection")
	default:
	}
}
