package registry

import (
	"context"
	"fmt"
	"time"

	"github.com/fabric-run/fabric/internal/wire"
)

// reapEvery is how often the reaper looks for silent nodes; it bounds how
// late a node is seen to go stale.
const reapEvery = 100 * time.Millisecond

// watch is one WatchLost registration.
type watch struct {
	node, instance string
	lost           chan string
	fired          bool
}

// WatchLost returns a channel that receives, once, why node (in the given
// instance, when not empty) is lost: it stopped heartbeating, left, or
// restarted as a new instance. stop releases the watch.
func (r *Registry) WatchLost(node, instance string) (lost <-chan string, stop func()) {
	w := &watch{node: node, instance: instance, lost: make(chan string, 1)}
	r.mu.Lock()
	ws := r.watchers[node]
	if ws == nil { // dropped when its last watch stops
		ws = map[*watch]struct{}{}
		r.watchers[node] = ws
	}
	ws[w] = struct{}{}
	r.checkLocked(w, r.cfg.Now())
	r.mu.Unlock()
	return w.lost, func() {
		r.mu.Lock()
		// A node's set is dropped only when empty, so while w is
		// registered its set is the current one.
		if ws := r.watchers[node]; ws != nil {
			delete(ws, w)
			if len(ws) == 0 {
				delete(r.watchers, node)
			}
		}
		r.mu.Unlock()
	}
}

// notifyLocked wakes Changed waiters and checks the watches of node (all
// watches if node is empty). r.mu is held.
func (r *Registry) notifyLocked(now time.Time, node string) {
	if r.taken.Swap(false) {
		close(r.changed)
		r.changed = make(chan struct{})
	}
	if node != "" {
		for w := range r.watchers[node] {
			r.checkLocked(w, now)
		}
		return
	}
	r.checkAllLocked(now)
}

func (r *Registry) checkAllLocked(now time.Time) {
	for _, ws := range r.watchers {
		for w := range ws {
			r.checkLocked(w, now)
		}
	}
}

func (r *Registry) checkLocked(w *watch, now time.Time) {
	if w.fired {
		return
	}
	reason := ""
	var n *Node
	if i, ok := r.tab.Index(w.node); ok {
		n = r.tab.Node(i)
	}
	switch {
	case n == nil || n.Via != wire.ViaNATS:
		reason = fmt.Sprintf("node %s is not sending heartbeats", w.node)
	case w.instance != "" && n.Instance != w.instance:
		reason = fmt.Sprintf("node %s restarted (its running tasks died with it)", w.node)
	case n.State == "leaving":
		reason = fmt.Sprintf("node %s left the cluster", w.node)
	case now.Sub(n.Seen) > r.staleAfter(&n.Heartbeat):
		reason = fmt.Sprintf("node %s stopped heartbeating (last seen %s ago)", w.node, now.Sub(n.Seen).Round(time.Millisecond))
	}
	if reason != "" {
		w.fired = true
		w.lost <- reason
	}
}

// reaper notices nodes going stale (nothing arrives to say so) and forgets
// nodes silent for longer than GoneAfter. It looks under the read lock, over
// the compact table (heartbeats and placements go on meanwhile), and takes
// the write lock only when something changed.
func (r *Registry) reaper(ctx context.Context) {
	defer r.loops.Done()
	t := time.NewTicker(reapEvery)
	defer t.Stop()
	var flips []int
	var gone []string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := r.cfg.Now()
		r.mu.RLock()
		flips, gone = r.tab.Silent(now, r.cfg.GoneAfter, flips[:0], gone[:0])
		r.mu.RUnlock()
		if len(flips) == 0 && len(gone) == 0 {
			continue // no node changed, so no watch can have
		}
		r.mu.Lock()
		flips, gone = r.tab.Silent(now, r.cfg.GoneAfter, flips[:0], gone[:0]) // again, under the lock
		for _, i := range flips {
			n := r.tab.Node(i)
			stale := !r.tab.Load(i).Stale
			r.tab.MarkStale(i, stale)
			if stale {
				r.log.Warn("node stale", "node", n.Node, "silent", now.Sub(n.Seen).Round(time.Millisecond))
			}
		}
		for _, id := range gone {
			if i, ok := r.tab.Index(id); ok {
				r.log.Info("node forgotten", "node", id, "silent", now.Sub(r.tab.Node(i).Seen).Round(time.Second))
			}
			r.tab.Remove(id)
			if m := r.machines[id]; m != nil {
				// The machine's worker is gone: reach it over SSH again.
				r.tab.Probed(m, now)
			}
		}
		r.notifyLocked(now, "")
		r.mu.Unlock()
	}
}
