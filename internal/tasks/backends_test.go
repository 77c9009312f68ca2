package tasks

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
)

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
		h := fabrictest.StartHub(t, hub.Config{JetStream: true})
		s := open(t, fabrictest.Connect(t, h.ClientURL()), cfg)
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
	fabrictest.Eventually(t, 5*time.Second, "WaitResult pending", func() bool { return pending(t, s, id) })
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
