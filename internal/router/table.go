package router

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fabric-run/fabric/internal/registry"
)

// MaxSkipped bounds the skipped nodes a decision lists.
const MaxSkipped = 32

// Route decides where req should run among the nodes of the registry's
// table t as of now, workers and SSH machines alike: it filters them (the
// requirements; ready unless stale, draining, leaving or unreachable; a
// free slot), scores the rest, and orders the best. It scans the table
// without allocating in proportion to it: Decision.Skipped lists at most
// MaxSkipped nodes (SkippedTotal counts them all).
//
// The caller holds whatever guards t (registry.View) for the call.
func (r *Router) Route(req Request, t *registry.Table, now time.Time) (*Decision, error) {
	return r.route(req, t, now, false)
}

// Place decides like Route and, in the same step, counts the task against
// the chosen node (as Acquire), so that concurrent placements spread. The
// caller must Release the node (or move the count with Release and Acquire
// if the task ends up elsewhere).
func (r *Router) Place(req Request, t *registry.Table, now time.Time) (*Decision, error) {
	return r.route(req, t, now, true)
}

// route is the one scan of the table: every decision goes through it.
func (r *Router) route(req Request, t *registry.Table, now time.Time, acquire bool) (*Decision, error) {
	d, err := r.decide(req)
	if err != nil {
		return nil, err
	}
	if n := d.Requires.Node; n != "" {
		if _, ok := t.Index(n); !ok {
			known := "none"
			if t.Len() > 0 {
				known = strings.Join(t.IDs(), ", ")
			}
			return nil, fmt.Errorf("%w %q: known nodes are %s", ErrUnknownNode, n, known)
		}
	}
	q := t.Compile(d.Requires, req.WorkersOnly)
	odd := q.Odd()
	localRow := -1
	if req.Local != "" {
		if i, ok := t.Index(req.Local); ok {
			localRow = i
		}
	}
	nowNs := t.At(now)
	rows := t.Rows()

	var best topK // ties by rank: id order
	full, worst := false, pick{}
	local := pick{i: -1}
	// The first skipped rows, to say why (worked out after the scan).
	var skipped [MaxSkipped]int32
	nSkipped, matched, available := 0, 0, 0
	r.mu.Lock()
	defer r.mu.Unlock()
	inflight := r.inflightRows(t)
	defer clear(inflight) // a memclr of 4 bytes a row beats a map lookup per entry
	for i := range rows {
		row := &rows[i]
		if !q.Bits(row, i) || (odd && !t.MatchOdd(&q, i)) || nowNs > row.ReadyUntil {
			if nSkipped < MaxSkipped {
				skipped[nSkipped] = int32(i)
			}
			nSkipped++
			continue
		}
		matched++
		running, score := int(row.Running), row.Score
		if inflight != nil && int(inflight[i]) > running {
			running = int(inflight[i])
			l := t.Load(i)
			score = registry.Score(l.Index, running, l.PerTask)
		}
		if running >= max(int(row.Slots), 1) {
			if nSkipped < MaxSkipped {
				skipped[nSkipped] = int32(i)
			}
			nSkipped++
			continue
		}
		available++
		p := pick{i: i, score: score, rank: row.Rank}
		if i == localRow {
			local = p
		}
		// Most rows lose to the worst kept: decide that here, inline.
		if full && (p.score > worst.score || (p.score == worst.score && p.rank > worst.rank)) {
			continue
		}
		best.offer(p)
		if best.n == MaxOrder {
			full, worst = true, best.best[MaxOrder-1]
		}
	}

	d.Skipped = skipReasons(t, &q, inflight, skipped[:min(nSkipped, MaxSkipped)], d, req.WorkersOnly, now)
	d.SkippedTotal = nSkipped
	if err := noneAvailable(d, matched, available, t.Len()); err != nil {
		return d, err
	}
	d.Order = best.order(local, func(i int) registry.Node {
		n := *t.Node(i)
		n.Health = registry.HealthReady // only ready rows are picked
		return n
	})
	r.finish(req, d, available, acquire)
	return d, nil
}

// inflightRows returns, indexed by row, the tasks this front end placed and
// has not seen finish (nil if none). The slice is the router's, reused:
// clear it after use. r.mu is held.
func (r *Router) inflightRows(t *registry.Table) []int32 {
	if len(r.inflight) == 0 {
		return nil
	}
	if cap(r.rowScratch) < t.Len() {
		r.rowScratch = make([]int32, t.Len())
	}
	rows := r.rowScratch[:t.Len()]
	for id, n := range r.inflight {
		if i, ok := t.Index(id); ok {
			rows[i] = int32(min(n, 1<<31-1))
		}
	}
	return rows
}

// skipReasons says why each listed row was skipped, sorted by id.
// inflight is as during the scan.
func skipReasons(t *registry.Table, q *registry.Query, inflight []int32, listed []int32, d *Decision, workersOnly bool, now time.Time) []Skip {
	if len(listed) == 0 {
		return nil
	}
	out := make([]Skip, len(listed))
	for k, i32 := range listed {
		i := int(i32)
		row, n := &t.Rows()[i], t.Node(i)
		var why string
		switch {
		case !t.Match(q, i):
			why = mismatch(n, d.Requires, workersOnly)
		case t.At(now) > row.ReadyUntil:
			why = notReady(t, i, now)
		default:
			running := int(row.Running)
			if inflight != nil {
				running = max(running, int(inflight[i]))
			}
			why = full(running, int(row.Slots))
		}
		out[k] = Skip{ID: n.Node, Why: why}
	}
	slices.SortFunc(out, func(a, b Skip) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// notReady says why a row takes no work.
func notReady(t *registry.Table, i int, now time.Time) string {
	row, n := &t.Rows()[i], t.Node(i)
	switch {
	case row.State == registry.StateUnreachable:
		return "is unreachable over ssh: " + n.Reason
	case row.State == registry.StateLeaving:
		return "has left"
	case t.At(now) > t.Load(i).StaleAt:
		return fmt.Sprintf("is stale (last heartbeat %s ago)", now.Sub(n.Seen).Round(100*time.Millisecond))
	case row.State == registry.StateDraining:
		return "is draining"
	}
	return ""
}
