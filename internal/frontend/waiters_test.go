package frontend

import (
	"context"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

// woken reports what w was told, if anything.
func woken(w *waiter) (freed, ok bool) {
	select {
	case freed = <-w.wake:
		return freed, true
	default:
		return false, false
	}
}

func TestWaitersWakeOneAtATime(t *testing.T) {
	var ws waiters
	a, b, c := ws.join(), ws.join(), ws.join()
	if !ws.first(a) || ws.first(b) {
		t.Fatal("first is not the longest waiting")
	}
	ws.freed()
	if f, ok := woken(a); !ok || !f {
		t.Fatalf("first: woken %v freed %v", ok, f)
	}
	if _, ok := woken(b); ok {
		t.Fatal("a freed slot woke the second too")
	}
	// a could not use it: passed on to b.
	ws.next(a, true)
	if f, ok := woken(b); !ok || !f {
		t.Fatalf("second after a pass: woken %v freed %v", ok, f)
	}
	// A guess does not replace a freed slot; a freed slot replaces a guess.
	ws.next(b, false)
	ws.next(b, true)
	if f, ok := woken(c); !ok || !f {
		t.Fatalf("third: woken %v freed %v", ok, f)
	}
	ws.next(b, true)
	ws.next(b, false)
	if f, _ := woken(c); !f {
		t.Fatal("a guess replaced a freed slot")
	}
	// Leaving with a freed slot untaken hands it on.
	ws.freed()
	ws.leave(a)
	if f, ok := woken(b); !ok || !f {
		t.Fatalf("a's untaken slot: woken %v freed %v", ok, f)
	}
	ws.leave(b)
	ws.leave(c)
	ws.leave(c) // twice is fine
	ws.freed()  // nobody waiting
	if len(ws.q) != 0 {
		t.Fatalf("%d left in line", len(ws.q))
	}
}

// TestBatchFarBeyondSlots: 60 commands at once (no limit) on a node with
// two slots all run: waiting placements are woken in turn as slots free.
func TestBatchFarBeyondSlots(t *testing.T) {
	c := newCluster(t, Config{}, worker.Config{Name: "a", OS: "linux", Arch: "amd64", Slots: 2, Load: worker.FixedLoad{CPUs: 2}})
	reqs := make([]Request, 60)
	for i := range reqs {
		reqs[i] = Request{Task: wire.Task{Command: "true", Timeout: wire.Duration(30 * time.Second)}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sts, err := c.svc.Batch(ctx, reqs, BatchOptions{Budget: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range sts {
		if st.Result == nil || st.Result.ExitCode != 0 {
			t.Fatalf("item %d: %s %+v", i, st.State, st.Result)
		}
	}
	if n := len(c.svc.waiting.q); n != 0 {
		t.Fatalf("%d placements still in line", n)
	}
}
