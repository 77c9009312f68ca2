package registry

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/wire"
)

// TestMain fails the run if goroutines outlive the tests: every reaper,
// subscription, hub and connection must be gone by the end.
func TestMain(m *testing.M) { fabrictest.Main(m) }

// clock is a settable clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func hb(node, inst, state string) *wire.Heartbeat {
	return &wire.Heartbeat{Node: node, Instance: inst, State: state, Interval: wire.Duration(time.Second), OS: "linux", Arch: "amd64"}
}

func TestHealth(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	r := New(nil, Config{Now: c.Now})
	r.Observe(hb("a", "1", wire.StateReady))
	r.Observe(hb("b", "1", wire.StateDraining))
	r.Observe(hb("c", "1", wire.StateLeaving))
	want := map[string]Health{"a": HealthReady, "b": HealthDraining, "c": HealthLeaving}
	for _, n := range r.Snapshot() {
		if n.Health != want[n.Node] {
			t.Errorf("%s health = %s, want %s", n.Node, n.Health, want[n.Node])
		}
	}
	c.Add(3*time.Second + time.Millisecond)
	if n, _ := r.Get("a"); n.Health != HealthStale {
		t.Errorf("after 3 intervals: %s", n.Health)
	}
}

func TestWatchLost(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	r := New(nil, Config{Now: c.Now})
	r.Observe(hb("a", "1", wire.StateReady))

	lost, stop := r.WatchLost("a", "1")
	defer stop()
	select {
	case why := <-lost:
		t.Fatalf("lost at once: %s", why)
	default:
	}
	// A restart (new instance) means the task died.
	r.Observe(hb("a", "2", wire.StateReady))
	if why := <-lost; !strings.Contains(why, "restarted") {
		t.Fatalf("why = %q", why)
	}

	lost2, stop2 := r.WatchLost("a", "2")
	defer stop2()
	r.Observe(hb("a", "2", wire.StateLeaving))
	if why := <-lost2; !strings.Contains(why, "left") {
		t.Fatalf("why = %q", why)
	}

	lost3, stop3 := r.WatchLost("ghost", "")
	defer stop3()
	if why := <-lost3; !strings.Contains(why, "not sending heartbeats") {
		t.Fatalf("why = %q", why)
	}
}

// TestStaleThroughReaper: with heartbeats stopped, the reaper notices the
// node going stale and fires the watch, then forgets the node.
func TestStaleThroughReaper(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	nc := fabrictest.Connect(t, h.ClientURL())
	c := &clock{t: time.Unix(1000, 0)}
	r := New(nc, Config{Now: c.Now, GoneAfter: time.Minute})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Observe(hb("a", "1", wire.StateReady))
	lost, stop := r.WatchLost("a", "1")
	defer stop()
	c.Add(4 * time.Second)
	select {
	case why := <-lost:
		if !strings.Contains(why, "stopped heartbeating") {
			t.Fatalf("why = %q", why)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not fire")
	}
	c.Add(2 * time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.WaitFor(ctx, func(ns []Node) bool { return len(ns) == 0 }); err != nil {
		t.Fatal("node not forgotten")
	}
}

func TestHeartbeatsOverNATSAndSync(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	nc := fabrictest.Connect(t, h.ClientURL())
	// A stand-in node answering pings with msgpack heartbeats.
	node := fabrictest.Connect(t, h.ClientURL())
	node.Subscribe("fabric.ping", func(m *nats.Msg) {
		reply, _ := wire.NewMsg(m.Reply, hb("pinged", "1", wire.StateReady))
		node.PublishMsg(reply)
	})
	node.Flush()

	r := New(nc, Config{})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n, err := r.Sync(context.Background(), 100*time.Millisecond)
	if err != nil || n != 1 {
		t.Fatalf("Sync = %d, %v", n, err)
	}
	if _, ok := r.Get("pinged"); !ok {
		t.Fatal("pinged node not registered")
	}
	// A published heartbeat registers; a malformed one is ignored.
	// (Garbage first: the subscription handles messages in order, so by the
	// time b is in, the garbage has been seen and dropped.)
	node.Publish("fabric.heartbeat.c", []byte("garbage"))
	msg, _ := wire.NewMsg("fabric.heartbeat.b", hb("b", "1", wire.StateReady))
	node.PublishMsg(msg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.WaitFor(ctx, func(ns []Node) bool { return len(ns) == 2 }); err != nil {
		t.Fatalf("nodes = %v", r.Snapshot())
	}
	if _, ok := r.Get("c"); ok {
		t.Fatal("garbage registered a node")
	}
}
