package locks

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
)

// holderEnv, when set to a NATS URL, makes the test binary a lock holder
// process: it takes the lock named by holderLockEnv as owner holderOwnerEnv
// with a 1 s heartbeat's lease, prints "held", and waits to be killed.
const (
	holderEnv      = "FABRIC_LOCKS_TEST_HOLDER"
	holderLockEnv  = "FABRIC_LOCKS_TEST_LOCK"
	holderOwnerEnv = "FABRIC_LOCKS_TEST_OWNER"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(holderEnv); url != "" {
		os.Exit(runHolder(url))
	}
	fabrictest.Main(m)
}

// testHeartbeat is the heartbeat interval the tests' leases derive from.
const testHeartbeat = time.Second

func runHolder(url string) int {
	nc, err := nats.Connect(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	lease, renew := LeaseFor(testHeartbeat)
	s, err := Open(ctx, nc, Config{Lease: lease, Renew: renew})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	spec, err := ParseSpec(os.Getenv(holderLockEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if _, err := s.Acquire(ctx, spec, os.Getenv(holderOwnerEnv), Info{Node: "child"}, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(w, "held")
	w.Flush()
	select {} // until killed
}

// startHub starts a JetStream hub on a random loopback port.
func startHub(t testing.TB) *hub.Hub {
	t.Helper()
	h, err := hub.Start(hub.Config{JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// connect opens a connection of its own to h.
func connect(t testing.TB, h *hub.Hub) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(h.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// openStore opens the lock store over a connection of its own, with the
// lease of a 1 s heartbeat.
func openStore(t testing.TB, h *hub.Hub) *Store {
	t.Helper()
	lease, renew := LeaseFor(testHeartbeat)
	s, err := Open(ctxT(t), connect(t, h), Config{Lease: lease, Renew: renew})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or within passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// release releases l, failing the test on error.
func release(t testing.TB, l *Lease) {
	t.Helper()
	if err := l.Release(context.Background()); err != nil {
		t.Error(err)
	}
}
