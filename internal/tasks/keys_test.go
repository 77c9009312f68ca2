package tasks

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/wire"
)

// TestClaimKey: the first claim of a key names its task; later claims get
// that task, whoever makes them.
func TestClaimKey(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.new(t, Config{})
		ctx := ctxT(t)
		first, second := wire.NewTaskID(), wire.NewTaskID()
		if got, err := s.ClaimKey(ctx, "deploy v1.2 to prod", first); err != nil || got != first {
			t.Fatalf("first claim = %q, %v; want %q", got, err, first)
		}
		if got, err := s.ClaimKey(ctx, "deploy v1.2 to prod", second); err != nil || got != first {
			t.Fatalf("second claim = %q, %v; want the first task %q", got, err, first)
		}
		if got, err := s.ClaimKey(ctx, "deploy v1.3 to prod", second); err != nil || got != second {
			t.Fatalf("another key = %q, %v; want %q", got, err, second)
		}
		for _, bad := range []string{"", strings.Repeat("k", MaxKeyLen+1)} {
			if _, err := s.ClaimKey(ctx, bad, second); !errors.Is(err, ErrBadKey) {
				t.Errorf("ClaimKey(%d bytes) = %v, want ErrBadKey", len(bad), err)
			}
		}
		if _, err := s.ClaimKey(ctx, "k", "not an id!"); !errors.Is(err, ErrInvalidID) {
			t.Errorf("ClaimKey with a bad id = %v", err)
		}
	})
}

// TestClaimKeyConcurrently: of many claims at once, from connections of
// their own, exactly one wins and all agree on it.
func TestClaimKeyConcurrently(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{JetStream: true})
	const n = 12
	var wg sync.WaitGroup
	got := make([]string, n)
	ids := make([]string, n)
	stores := make([]Store, n)
	for i := range n {
		ids[i] = wire.NewTaskID()
		stores[i] = open(t, fabrictest.Connect(t, h.ClientURL()), Config{})
	}
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			var err error
			if got[i], err = stores[i].ClaimKey(ctxT(t), "once", ids[i]); err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	winners := 0
	for i := range n {
		if got[i] != got[0] {
			t.Fatalf("claims disagree: %q and %q", got[0], got[i])
		}
		if got[i] == ids[i] {
			winners++
		}
	}
	if winners != 1 {
		t.Fatalf("%d claims won, want exactly 1", winners)
	}
}

// TestClaimKeyExpiresWithTheRecords: past MaxAge a key is free again.
func TestClaimKeyExpiresWithTheRecords(t *testing.T) {
	c := newClock()
	s := NewMemory(Config{MaxAge: time.Hour, Now: c.Now})
	defer s.Close()
	a, b := wire.NewTaskID(), wire.NewTaskID()
	if got, _ := s.ClaimKey(ctxT(t), "k", a); got != a {
		t.Fatal(got)
	}
	c.Advance(time.Hour + time.Second)
	if got, err := s.ClaimKey(ctxT(t), "k", b); err != nil || got != b {
		t.Fatalf("claim after the records' lifetime = %q, %v; want %q", got, err, b)
	}
}
