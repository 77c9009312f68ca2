package worker_test

import (
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/runner"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

// TestStreamingWindowBoundsWhatIsInFlight: a front end that takes output
// but does not answer credit requests receives at most a window (plus the
// chunk that crossed it); once it answers, the rest follows, in order.
func TestStreamingWindowBoundsWhatIsInFlight(t *testing.T) {
	const window = 256 << 10
	h := fabrictest.StartHub(t, hub.Config{})
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{FlowWindow: window})
	nc := fabrictest.Connect(t, h.ClientURL())
	inbox := nc.NewRespInbox()
	var (
		mu      sync.Mutex
		got     int
		seq     uint64
		inOrder = true
		held    []*nats.Msg // credit requests not answered yet
		answer  bool
	)
	done := make(chan wire.Result, 1)
	if _, err := nc.Subscribe(inbox, func(m *nats.Msg) {
		switch wire.KindOf(m) {
		case wire.KindChunk:
			var c wire.Chunk
			if err := wire.Decode(m, &c); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			got += len(c.Data)
			inOrder = inOrder && c.Seq == seq+1
			seq = c.Seq
			if m.Reply != "" {
				if answer {
					m.Respond(nil)
				} else {
					held = append(held, m)
				}
			}
		case wire.KindResult:
			var r wire.Result
			wire.Decode(m, &r)
			done <- r
		}
	}); err != nil {
		t.Fatal(err)
	}
	const size = 8 << 20
	msg, _ := wire.NewMsg("fabric.task.linux.amd64.any.n1", &wire.Task{ID: "big", Command: "head -c 8388608 /dev/zero"})
	msg.Reply = inbox
	if err := nc.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	// Wait until output stops arriving: the window is full.
	last := -1
	for deadline := time.Now().Add(10 * time.Second); ; {
		time.Sleep(200 * time.Millisecond)
		mu.Lock()
		now := got
		mu.Unlock()
		if now > 0 && now == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("output still flowing after 10s: %d bytes", now)
		}
		last = now
	}
	mu.Lock()
	if got > window+256<<10 { // a window, plus one chunk of the largest read
		t.Errorf("%d bytes in flight unanswered, window is %d", got, window)
	}
	answer = true
	for _, m := range held {
		m.Respond(nil)
	}
	held = nil
	mu.Unlock()
	select {
	case r := <-done:
		mu.Lock()
		defer mu.Unlock()
		if got != size || !inOrder || r.StdoutBytes != size {
			t.Fatalf("streamed %d bytes (in order: %v), result counts %d", got, inOrder, r.StdoutBytes)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no result")
	}
}

// TestDirectPathTurnsOn: a node whose shell passes the check runs simple
// commands directly a moment after start; ShellOnly keeps them in the
// shell.
func TestDirectPathTurnsOn(t *testing.T) {
	if err := runner.DirectCheck(runner.DefaultShell()); err != nil {
		t.Skip(err)
	}
	h := fabrictest.StartHub(t, hub.Config{})
	w := fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{})
	shellOnly := fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{Name: "n2", ShellOnly: true})
	fabrictest.Eventually(t, worker.DirectCheckDelay+10*time.Second, "the direct path on", w.Direct)
	nc := fabrictest.Connect(t, h.ClientURL())
	res := request(t, nc, "fabric.task.linux.amd64.any.n1", []byte("sh -c 'echo $0 $1' zero one"))
	if res.ExitCode != 0 || res.Stdout != "zero one\n" {
		t.Fatalf("result %+v", res)
	}
	if shellOnly.Direct() {
		t.Fatal("ShellOnly node runs commands directly")
	}
}
