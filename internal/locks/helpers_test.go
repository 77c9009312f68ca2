package locks_test

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
	"github.com/fabric-run/fabric/internal/locks"
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
	lease, renew := locks.LeaseFor(testHeartbeat)
	s, err := locks.Open(ctx, nc, locks.Config{Lease: lease, Renew: renew})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	spec, err := locks.ParseSpec(os.Getenv(holderLockEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if _, err := s.Acquire(ctx, spec, os.Getenv(holderOwnerEnv), locks.Info{Node: "child"}, nil); err != nil {
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
	return fabrictest.StartHub(t, hub.Config{JetStream: true})
}

// connect opens a connection of its own to h.
func connect(t testing.TB, h *hub.Hub) *nats.Conn {
	t.Helper()
	return fabrictest.Connect(t, h.ClientURL())
}

// openStore opens the lock store over a connection of its own, with the
// lease of a 1 s heartbeat.
func openStore(t testing.TB, h *hub.Hub) *locks.Store {
	t.Helper()
	lease, renew := locks.LeaseFor(testHeartbeat)
	s, err := locks.Open(ctxT(t), connect(t, h), locks.Config{Lease: lease, Renew: renew})
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

// release releases l, failing the test on error.
func release(t testing.TB, l *locks.Lease) {
	t.Helper()
	if err := l.Release(context.Background()); err != nil {
		t.Error(err)
	}
}
