package router

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fabric-run/fabric/internal/fleet"
)

// MaxSkipped bounds the skipped candidates a RouteTable decision lists.
const MaxSkipped = 32

// RouteTable decides like Route, over the compact node table t as of now:
// the same filter, score, order and reason, with nodes read from the table
// (reachable over NATS; ready unless stale, draining or leaving). It scans
// the table without allocating in proportion to it: Decision.Skipped lists
// at most MaxSkipped candidates (SkippedTotal counts them all).
//
// The caller holds whatever guards t (registry.View) for the call.
func (r *Router) RouteTable(req Request, t *fleet.Table, now time.Time) (*Decision, error) {
	return r.routeTable(req, t, now, false)
}

// PlaceTable decides like RouteTable and counts the task against the
// chosen node, as Place does.
func (r *Router) PlaceTable(req Request, t *fleet.Table, now time.Time) (*Decision, error) {
	return r.routeTable(req, t, now, true)
}

func (r *Router) routeTable(req Request, t *fleet.Table, now time.Time, acquire bool) (*Decision, error) {
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
	q := t.Compile(d.Requires)
	odd := q.Odd()
	localRow := -1
	if req.Local != "" {
		if i, ok := t.Index(req.Local); ok {
			localRow = i
		}
	}
	nowNs := t.At(now)
	rows := t.Rows()

	best := newTopK(nil) // ties by rank: id order
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
			score = fleet.Score(l.Index, running, l.PerTask)
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

	d.Skipped = skipReasons(t, &q, inflight, skipped[:min(nSkipped, MaxSkipped)], d, now)
	d.SkippedTotal = nSkipped
	if err := noneAvailable(d, matched, available, t.Len()); err != nil {
		return d, err
	}
	d.Order = best.order(local, func(i int) Candidate {
		c := tableCandidate(t, i)
		c.Ready = true // only ready rows are picked
		return c
	})
	r.finish(req, d, available, acquire)
	return d, nil
}

// inflightRows returns, indexed by row, the tasks this front end placed and
// has not seen finish (nil if none). The slice is the router's, reused:
// clear it after use. r.mu is held.
func (r *Router) inflightRows(t *fleet.Table) []int32 {
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

// skipReasons says why each listed row was skipped, sorted by id as Route
// lists nodes it is given sorted. inflight is as during the scan.
func skipReasons(t *fleet.Table, q *fleet.Query, inflight []int32, listed []int32, d *Decision, now time.Time) []Skip {
	if len(listed) == 0 {
		return nil
	}
	out := make([]Skip, len(listed))
	for k, i32 := range listed {
		i := int(i32)
		row, in := &t.Rows()[i], t.Info(i)
		var why string
		switch {
		case !t.Match(q, i):
			c := tableCandidate(t, i)
			why = mismatch(&c, d.Requires)
		case t.At(now) > row.ReadyUntil:
			why = notReady(t, i, now)
		default:
			running := int(row.Running)
			if inflight != nil {
				running = max(running, int(inflight[i]))
			}
			why = full(running, int(row.Slots))
		}
		out[k] = Skip{ID: in.ID, Why: why}
	}
	slices.SortFunc(out, func(a, b Skip) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Why a node takes no work, in the words of every placement (a fleet table
// row here, a registry node in frontend.Candidate).
const (
	NotReadyLeft     = "has left"
	NotReadyDraining = "is draining"
)

// NotReadyStale says a node is stale, its last heartbeat silent ago.
func NotReadyStale(silent time.Duration) string {
	return fmt.Sprintf("is stale (last heartbeat %s ago)", silent.Round(100*time.Millisecond))
}

// notReady says why a row takes no work.
func notReady(t *fleet.Table, i int, now time.Time) string {
	row, in := &t.Rows()[i], t.Info(i)
	switch {
	case row.State == fleet.StateLeaving:
		return NotReadyLeft
	case t.At(now) > t.Load(i).StaleAt:
		return NotReadyStale(now.Sub(in.Seen))
	case row.State == fleet.StateDraining:
		return NotReadyDraining
	}
	return ""
}

// tableCandidate is row i as a Candidate.
func tableCandidate(t *fleet.Table, i int) Candidate {
	row, in := &t.Rows()[i], t.Info(i)
	c := Candidate{
		ID: in.ID, OS: in.OS, Arch: in.Arch, Capabilities: in.Capabilities, Via: ViaNATS,
		CPUPercent: in.CPUPercent, MemPercent: in.MemPercent, Load1: in.Load1, CPUs: in.CPUs,
		Running: int(row.Running), Slots: int(row.Slots),
	}
	return c
}
