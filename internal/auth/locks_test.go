package auth

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/locks"
)

// TestNodeRoleTakesLocks: a node, with only its role's permissions, can
// create the lock bucket, queue, hold, renew, release and list; a front
// end can list. A call its role lacked would wait out its context.
func TestNodeRoleTakesLocks(t *testing.T) {
	h, dir := securedHub(t, InitOptions{})
	nodeNC, err := connectAs(t, h, Client{NKeySeed: filepath.Join(dir, "node.nk")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	lease, renew := locks.LeaseFor(time.Second)
	st, err := locks.Open(ctx, nodeNC, locks.Config{Lease: lease, Renew: renew})
	if err != nil {
		t.Fatal(err)
	}
	first, err := st.Acquire(ctx, locks.Spec{Name: "build", Max: 1}, "t1", locks.Info{Node: "n1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	queued := make(chan struct{})
	got := make(chan error, 1)
	go func() {
		l, err := st.Acquire(ctx, locks.Spec{Name: "build", Max: 1}, "t2", locks.Info{Node: "n1"}, func(locks.Position) { close(queued) })
		if err == nil {
			err = l.Release(ctx)
		}
		got <- err
	}()
	<-queued
	// Outlast a lease: renewals must get through.
	time.Sleep(lease + renew) // not a synchronisation: renewals must have happened
	select {
	case <-first.Lost():
		t.Fatalf("lease lost under the node role: %v", first.Err())
	default:
	}
	feNC, err := connectAs(t, h, Client{NKeySeed: filepath.Join(dir, "frontend.nk")})
	if err != nil {
		t.Fatal(err)
	}
	feStore, err := locks.Open(ctx, feNC, locks.Config{})
	if err != nil {
		t.Fatal(err)
	}
	qs, err := feStore.List(ctx)
	if err != nil || len(qs) != 1 || len(qs[0].Holders()) != 1 || len(qs[0].Waiters()) != 1 {
		t.Fatalf("front end's list: %+v, %v", qs, err)
	}
	if err := first.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}
