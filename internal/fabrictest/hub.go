package fabrictest

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/hub"
)

// StartHub starts an embedded hub for the test, closed when it ends. The
// zero Config listens on a random loopback port with JetStream off; with
// JetStream on and no StoreDir, the store goes in a new temporary
// directory. Authentication and TLS go in cfg.Configure (see auth).
func StartHub(t testing.TB, cfg hub.Config) *hub.Hub {
	t.Helper()
	if cfg.JetStream && cfg.StoreDir == "" {
		cfg.StoreDir = t.TempDir()
	}
	h, err := hub.Start(cfg)
	if err != nil {
		t.Fatalf("start hub: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

// Connect connects to url (one or more comma-separated server URLs) with
// opts, failing the test if it cannot; the connection is closed when the
// test ends.
func Connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}
