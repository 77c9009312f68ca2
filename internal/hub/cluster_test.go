package hub_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

// TestTwoHubsFailOver joins two embedded hubs into one NATS system, as a
// cluster (routes) and as a hub with a leaf node; puts a node on each and a
// front end on the first; checks that tasks cross from one server to the
// other; stops the first server; and checks that every client, connected
// with both URLs, moves to the second and that routing works again.
func TestTwoHubsFailOver(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T) (first, second *hub.Hub)
	}{
		{"cluster", func(t *testing.T) (*hub.Hub, *hub.Hub) {
			a := fabrictest.StartHub(t, hub.Config{Name: "a", Cluster: hub.ClusterConfig{Name: "test", Listen: "127.0.0.1:0"}})
			b := fabrictest.StartHub(t, hub.Config{Name: "b", Cluster: hub.ClusterConfig{
				Name: "test", Listen: "127.0.0.1:0", Routes: []string{"nats-route://" + a.ClusterAddr().String()},
			}})
			fabrictest.Eventually(t, 15*time.Second, "the route between a and b", func() bool {
				return a.Server().NumRoutes() > 0 && b.Server().NumRoutes() > 0
			})
			return a, b
		}},
		{"leaf", func(t *testing.T) (*hub.Hub, *hub.Hub) {
			system := fabrictest.StartHub(t, hub.Config{Name: "system", Leaf: hub.LeafConfig{Listen: "127.0.0.1:0"}})
			leaf := fabrictest.StartHub(t, hub.Config{Name: "leaf", Leaf: hub.LeafConfig{Remotes: []string{"nats-leaf://" + system.LeafAddr()}}})
			fabrictest.Eventually(t, 15*time.Second, "the leaf connection", func() bool {
				return system.Server().NumLeafNodes() > 0 && leaf.Server().NumLeafNodes() > 0
			})
			// The leaf is the first server: the one that stops.
			return leaf, system
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, second := tt.start(t)
			urls := []string{first.ClientURL(), second.ClientURL()}
			reversed := []string{second.ClientURL(), first.ClientURL()}

			ncFE := connectAll(t, urls)
			nc1 := connectAll(t, urls)
			nc2 := connectAll(t, reversed)
			// Heartbeats fast enough that a node silent through the
			// failover is seen stale at once, slow enough that a loaded
			// -race run keeps live nodes ready.
			for name, nc := range map[string]*nats.Conn{"n1": nc1, "n2": nc2} {
				fabrictest.StartWorker(t, nc, worker.Config{Name: name, Slots: 2, Load: worker.FixedLoad{CPUs: 2}, HeartbeatInterval: 300 * time.Millisecond})
			}
			fe, err := frontend.New(ncFE, frontend.Config{AckTimeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if err := fe.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(fe.Close)

			for nc, want := range map[*nats.Conn]string{ncFE: first.Name(), nc1: first.Name(), nc2: second.Name()} {
				if got := nc.ConnectedServerName(); got != want {
					t.Fatalf("client %s connected to %q, want %q", nc.Opts.Name, got, want)
				}
			}
			waitReady(t, fe, time.Time{}, "n1", "n2")
			runOn(t, fe, "n1") // same server
			runOn(t, fe, "n2") // across servers

			first.Close()
			stopped := time.Now()
			fabrictest.Eventually(t, 15*time.Second, "the clients of the stopped server to reconnect to the other", func() bool {
				return ncFE.IsConnected() && ncFE.ConnectedServerName() == second.Name() &&
					nc1.IsConnected() && nc1.ConnectedServerName() == second.Name()
			})
			// A heartbeat sent after the failover follows the node's
			// re-subscriptions on its new connection.
			waitReady(t, fe, stopped, "n1", "n2")
			runOn(t, fe, "n1")
			runOn(t, fe, "n2")
		})
	}
}

// waitReady waits until the front end sees every named node ready, with a
// heartbeat that arrived after since.
func waitReady(t *testing.T, fe *frontend.Service, since time.Time, names ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := fe.WaitNodes(ctx, func(ns []registry.Node) bool {
		ready := map[string]bool{}
		for _, n := range ns {
			ready[n.Node] = n.Health == registry.HealthReady && n.Seen.After(since)
		}
		for _, name := range names {
			if !ready[name] {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("nodes %v not all ready: %+v", names, fe.Nodes(ctx))
	}
}

// runOn runs a command on node and checks it ran there.
func runOn(t *testing.T, fe *frontend.Service, node string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := fe.Run(ctx, frontend.Request{Task: wire.Task{Command: "echo ran-on-" + node, Requires: wire.Requirements{Node: node}}}, nil)
	if err != nil {
		t.Fatalf("run on %s: %v", node, err)
	}
	if out.Record.Node != node || out.Result.Error != wire.ErrNone || out.Result.Stdout != "ran-on-"+node+"\n" {
		t.Fatalf("run on %s: ran on %s: %+v", node, out.Record.Node, out.Result)
	}
}

// connectAll connects a long-lived client to servers in the order given,
// as fabric-node does: reconnecting forever, quickly.
func connectAll(t *testing.T, urls []string) *nats.Conn {
	t.Helper()
	return fabrictest.Connect(t, strings.Join(urls, ","),
		nats.Name(t.Name()),
		nats.DontRandomize(),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond),
		nats.ReconnectJitter(10*time.Millisecond, 10*time.Millisecond),
	)
}
