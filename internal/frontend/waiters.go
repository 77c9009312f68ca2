package frontend

import (
	"slices"
	"sync"
)

// waiters orders the placements waiting for a free slot (every matching
// node busy). A freed slot wakes the longest waiting placement, not all of
// them: with a batch of 2,000 over 8 slots, waking every waiter on every
// finished task made 2,000 placements per task and starved the cluster.
//
// A waiter woken by a freed slot that cannot use it (it needs another kind
// of node) passes it to the next; one that was placed wakes the next in
// case there is room for more (that wake is a guess: failing it, the next
// waits again without passing it on). The first waiter also watches the
// node table; the others rely on these wakes and their retry timer.
//
// waiters is safe for concurrent use.
type waiters struct {
	mu sync.Mutex
	q  []*waiter
}

// waiter is one waiting placement.
type waiter struct {
	// wake receives true when a slot was freed, false when one may be.
	wake chan bool
}

// join adds a waiter at the end of the queue.
func (ws *waiters) join() *waiter {
	w := &waiter{wake: make(chan bool, 1)}
	ws.mu.Lock()
	ws.q = append(ws.q, w)
	ws.mu.Unlock()
	return w
}

// leave removes w. A freed slot it was told of and did not wait for goes
// to the next waiter.
func (ws *waiters) leave(w *waiter) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	i := slices.Index(ws.q, w)
	if i < 0 {
		return
	}
	ws.q = slices.Delete(ws.q, i, i+1)
	select {
	case freed := <-w.wake:
		if freed && i < len(ws.q) {
			ws.tell(ws.q[i], true)
		}
	default:
	}
}

// first reports whether w is the longest waiting.
func (ws *waiters) first(w *waiter) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return len(ws.q) > 0 && ws.q[0] == w
}

// freed tells the longest waiting placement that a slot was freed.
func (ws *waiters) freed() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if len(ws.q) > 0 {
		ws.tell(ws.q[0], true)
	}
}

// next tells the waiter after w: of a freed slot w could not use (freed),
// or that there may be room (after w was placed).
func (ws *waiters) next(w *waiter, freed bool) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if i := slices.Index(ws.q, w); i >= 0 && i+1 < len(ws.q) {
		ws.tell(ws.q[i+1], freed)
	} else if i < 0 && len(ws.q) > 0 {
		ws.tell(ws.q[0], freed)
	}
}

// tell wakes w, keeping a freed-slot wake over a guess. ws.mu is held.
func (ws *waiters) tell(w *waiter, freed bool) {
	select {
	case w.wake <- freed:
	default:
		if freed { // upgrade a pending guess
			select {
			case <-w.wake:
			default:
			}
			w.wake <- true
		}
	}
}
