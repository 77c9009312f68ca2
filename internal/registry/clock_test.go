package registry

import (
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/wire"
)

// TestClockOffset: the offset is the node's clock minus the front end's,
// less the transit of the least delayed recent heartbeat; a new instance
// starts afresh, and a clock set back is followed once the old samples are
// out of the window.
func TestClockOffset(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	r := New(nil, Config{Now: c.Now})
	beat := func(inst string, ahead, transit time.Duration) time.Duration {
		h := hb("a", inst, wire.StateReady)
		h.Time = c.Now().Add(ahead)
		c.Add(transit)
		r.Observe(h)
		n, _ := r.Get("a")
		return n.ClockOffset
	}
	if got := beat("1", 5*time.Second, 300*time.Millisecond); got != 4700*time.Millisecond {
		t.Fatalf("first = %v", got)
	}
	if got := beat("1", 5*time.Second, 10*time.Millisecond); got != 4990*time.Millisecond {
		t.Fatalf("less delayed = %v", got)
	}
	if got := beat("1", 5*time.Second, 2*time.Second); got != 4990*time.Millisecond {
		t.Fatalf("a delayed heartbeat moved it: %v", got)
	}
	if got := beat("2", -time.Second, 0); got != -time.Second {
		t.Fatalf("new instance = %v", got)
	}
	for range clockWindow - 1 {
		beat("2", -time.Second, 0)
	}
	if got := beat("2", -3*time.Second, 0); got != -time.Second {
		t.Fatalf("set back, window full of the old = %v", got)
	}
	var got time.Duration
	for range clockWindow {
		got = beat("2", -3*time.Second, 0)
	}
	if got != -3*time.Second {
		t.Fatalf("set back, after a window = %v", got)
	}
	h := hb("b", "1", wire.StateReady) // no time: no estimate
	r.Observe(h)
	if n, _ := r.Get("b"); n.ClockOffset != 0 {
		t.Fatalf("no time: offset %v", n.ClockOffset)
	}
}
