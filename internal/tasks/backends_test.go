package tasks

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fabric-run/fabric/internal/hub"
)

// startHub starts an embedded hub on a random loopback port, closed at the
// end of the test.
func startHub(t testing.TB, cfg hub.Config) *hub.Hub {
	t.Helper()
	h, err := hub.Start(cfg)
	if err != nil {
		t.Fatalf("hub.Start: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

// startJetStreamHub starts a hub with JetStream storing under dir (a new
// temporary directory when dir is "").
func startJetStreamHub(t testing.TB, dir string) *hub.Hub {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	return startHub(t, hub.Config{JetStream: true, StoreDir: dir})
}

// connect opens a TCP client connection to h, closed at the end of the test.
func connect(t testing.TB, h *hub.Hub) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(h.ClientURL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// open opens a store on nc, closed at the end of the test.
func open(t testing.TB, nc *nats.Conn, cfg Config) Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, nc, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// backend makes a fresh store of one kind for a test.
type backend struct {
	name string
	new  func(t testing.TB, cfg Config) Store
}

var backends = []backend{
	{BackendJetStream, func(t testing.TB, cfg Config) Store {
		s := open(t, connect(t, startJetStreamHub(t, "")), cfg)
		if s.Backend() != BackendJetStream {
			t.Fatalf("Backend = %q, want %q", s.Backend(), BackendJetStream)
		}
		return s
	}},
	{BackendMemory, func(t testing.TB, cfg Config) Store {
		s := NewMemory(cfg)
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

// forEachBackend runs f as a subtest on each kind of store.
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

// waitPending waits until some WaitResult is blocked on s: a watch consumer
// on the bucket's stream, or a waiter in the memory store.
func waitPending(t testing.TB, s Store, id string) {
	t.Helper()
	eventually(t, 5*time.Second, "WaitResult pending", func() bool { return pending(t, s, id) })
}

// pending reports whether a WaitResult for id is blocked on s (on the
// JetStream store: whether any watch consumer exists).
func pending(t testing.TB, s Store, id string) bool {
	t.Helper()
	switch s := s.(type) {
	case *kvStore:
		st, err := s.kv.Status(context.Background())
		if err != nil {
			t.Fatalf("Status: %v", err)
		}
		return st.(*jetstream.KeyValueBucketStatus).StreamInfo().State.Consumers > 0
	case *memStore:
		s.mu.Lock()
		defer s.mu.Unlock()
		_, ok := s.waiters[id]
		return ok
	}
	t.Fatalf("unknown store %T", s)
	return false
}
