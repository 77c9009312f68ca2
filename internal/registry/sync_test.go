package registry

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/wire"
)

// TestSyncWaitsForASlowFirstAnswer: a node whose answer takes longer than
// the quiet period (a WAN, a loaded machine) is still seen; the quiet
// period only starts with the first answer.
func TestSyncWaitsForASlowFirstAnswer(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	node := fabrictest.Connect(t, h.ClientURL())
	answer := make(chan string, 1)
	node.Subscribe("fabric.ping", func(m *nats.Msg) { answer <- m.Reply })
	node.Flush()
	// The stand-in node answers once the front end has waited well past
	// the quiet period with nothing.
	const quiet = 50 * time.Millisecond
	go func() {
		var reply string
		select {
		case reply = <-answer:
		case <-t.Context().Done():
			return
		}
		time.Sleep(6 * quiet) // the slow network being simulated, not a synchronisation
		msg, _ := wire.NewMsg(reply, hb("far", "1", wire.StateReady))
		node.PublishMsg(msg)
		node.Flush()
	}()

	nc := fabrictest.Connect(t, h.ClientURL())
	r := New(nc, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := r.Sync(ctx, quiet)
	if err != nil || n != 1 {
		t.Fatalf("Sync = %d, %v; want the slow node", n, err)
	}
	if _, ok := r.Get("far"); !ok {
		t.Fatal("slow node not registered")
	}
}

// TestSyncWithNoNodeReturnsAtOnce: with no node subscribed at all, NATS
// says so and Sync does not wait for its context.
func TestSyncWithNoNodeReturnsAtOnce(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	nc := fabrictest.Connect(t, h.ClientURL())
	r := New(nc, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	n, err := r.Sync(ctx, 50*time.Millisecond)
	if err != nil || n != 0 {
		t.Fatalf("Sync = %d, %v", n, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Sync with no node took %s", d)
	}
}
