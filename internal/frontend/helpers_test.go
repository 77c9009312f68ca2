package frontend

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

// TestMain fails the run if goroutines outlive the tests: every follower,
// watch, probe, connection, hub and worker a test starts must be gone.
func TestMain(m *testing.M) { fabrictest.Main(m) }

// testHub is an embedded hub (with JetStream, for records that outlive a
// service) and the in-process workers on it.
type testHub struct {
	hub       *hub.Hub
	jetstream bool
	workers   map[string]*worker.Worker
	conns     map[string]*nats.Conn
}

func startHub(t testing.TB, jetstream bool) *testHub {
	t.Helper()
	h := fabrictest.StartHub(t, hub.Config{JetStream: jetstream})
	return &testHub{hub: h, jetstream: jetstream, workers: map[string]*worker.Worker{}, conns: map[string]*nats.Conn{}}
}

func (h *testHub) connect(t testing.TB) *nats.Conn {
	t.Helper()
	return fabrictest.Connect(t, h.hub.ClientURL())
}

// addNode starts a live worker on a connection of its own: 4 idle CPUs
// and 4 slots unless cfg says otherwise.
func (h *testHub) addNode(t testing.TB, cfg worker.Config) *worker.Worker {
	t.Helper()
	if cfg.Slots == 0 {
		cfg.Slots = 4
	}
	if cfg.HeartbeatInterval == 0 {
		// Long enough that a CPU-starved test run (-race, parallel
		// packages) never sees a live node go stale.
		cfg.HeartbeatInterval = time.Second
	}
	nc := h.connect(t)
	w := fabrictest.StartWorker(t, nc, cfg)
	h.workers[cfg.Name] = w
	h.conns[cfg.Name] = nc
	return w
}

// service starts a task service on the hub (its records in the hub's
// JetStream, if it has it) and waits until it sees every worker ready.
func (h *testHub) service(t testing.TB, cfg Config) *Service {
	t.Helper()
	nc := h.connect(t)
	if h.jetstream {
		store, err := tasks.Open(context.Background(), nc, tasks.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if store.Backend() != tasks.BackendJetStream {
			t.Fatalf("backend %s", store.Backend())
		}
		t.Cleanup(func() { store.Close() })
		cfg.Store = store
	}
	s, err := New(nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.waitNodes(t, s, len(h.workers))
	return s
}

// waitNodes waits until s sees n workers ready.
func (h *testHub) waitNodes(t testing.TB, s *Service, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.WaitNodes(ctx, func(ns []registry.Node) bool {
		ready := 0
		for _, x := range ns {
			if x.Via == wire.ViaNATS && x.Health == registry.HealthReady {
				ready++
			}
		}
		return ready >= n
	})
	if err != nil {
		t.Fatalf("waiting for %d nodes: have %v", n, s.reg.Snapshot())
	}
}

// testCluster is a hub with no JetStream, some workers and a service
// (records in memory).
type testCluster struct {
	*testHub
	svc *Service
}

func newCluster(t testing.TB, cfg Config, nodes ...worker.Config) *testCluster {
	t.Helper()
	h := startHub(t, false)
	for _, n := range nodes {
		h.addNode(t, n)
	}
	return &testCluster{testHub: h, svc: h.service(t, cfg)}
}

// newEnv is a hub with JetStream and idle linux workers of the given names.
func newEnv(t *testing.T, names ...string) *testHub {
	t.Helper()
	h := startHub(t, true)
	for _, n := range names {
		h.addNode(t, worker.Config{Name: n, OS: "linux", Arch: "amd64"})
	}
	return h
}

// cmd is a request to run command.
func cmd(command string) Request { return Request{Task: wire.Task{Command: command}} }
