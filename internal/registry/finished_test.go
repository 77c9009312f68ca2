package registry

import (
	"slices"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/wire"
)

// TestFinishedFreesTheSlot: a task the node's last heartbeat listed no
// longer counts once it ended; one it did not list changes nothing.
func TestFinishedFreesTheSlot(t *testing.T) {
	r := New(nil, Config{})
	h := hb("a", "1", wire.StateReady)
	h.Running, h.Slots, h.Tasks = 2, 2, []string{"t1", "t2"}
	r.Observe(h)
	snap := r.Snapshot()
	r.Finished("a", "t9")
	r.Finished("zz", "t1")
	if n, _ := r.Get("a"); n.Running != 2 {
		t.Fatalf("unknown task or node changed the count: %d", n.Running)
	}
	r.Finished("a", "t1")
	n, _ := r.Get("a")
	if n.Running != 1 || !slices.Equal(n.Tasks, []string{"t2"}) {
		t.Fatalf("after t1 ended: running %d, tasks %v", n.Running, n.Tasks)
	}
	if !slices.Equal(snap[0].Tasks, []string{"t1", "t2"}) {
		t.Fatalf("an earlier snapshot changed: %v", snap[0].Tasks)
	}
	r.Finished("a", "t1") // twice: nothing more
	r.View(func(tab *Table, _ time.Time) {
		if got := tab.Rows()[0].Running; got != 1 {
			t.Fatalf("table row running %d, want 1", got)
		}
	})
}
