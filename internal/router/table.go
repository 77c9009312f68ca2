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

// Why a table row was skipped; the text is made only for the listed few.
type skipKind uint8

const (
	skipMismatch skipKind = iota
	skipNotReady
	skipFull
)

type tableSkip struct {
	i       int
	kind    skipKind
	running int
}

func (r *Router) routeTable(req Request, t *fleet.Table, now time.Time, acquire bool) (*Decision, error) {
	d, err := decide(req)
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
	var skipped [MaxSkipped]tableSkip
	nSkipped, matched, available := 0, 0, 0
	skip := func(s tableSkip) {
		if nSkipped < MaxSkipped {
			skipped[nSkipped] = s
		}
		nSkipped++
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	inflight := r.inflightRows(t)
	for i := range rows {
		row := &rows[i]
		if !q.Bits(row, i) || (q.Odd() && !t.MatchOdd(&q, i)) {
			skip(tableSkip{i: i, kind: skipMismatch})
			continue
		}
		if row.State != fleet.StateReady || nowNs > row.StaleAt {
			skip(tableSkip{i: i, kind: skipNotReady})
			continue
		}
		matched++
		running := int(row.Running)
		if inflight != nil && inflight[i] > 0 {
			running = max(running, int(inflight[i]))
		}
		if running >= max(int(row.Slots), 1) {
			skip(tableSkip{i: i, kind: skipFull, running: running})
			continue
		}
		available++
		p := pick{i: i, score: scoreOf(row.Load, running, row.SlotsF), rank: row.Rank}
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
	r.clearInflightRows(t, inflight)

	d.Skipped = skipReasons(t, skipped[:min(nSkipped, MaxSkipped)], d, now)
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
// clear it with clearInflightRows. r.mu is held.
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

func (r *Router) clearInflightRows(t *fleet.Table, rows []int32) {
	if rows == nil {
		return
	}
	for id := range r.inflight {
		if i, ok := t.Index(id); ok {
			rows[i] = 0
		}
	}
}

// skipReasons turns the listed skips into reasons, sorted by id as Route
// lists nodes it is given sorted.
func skipReasons(t *fleet.Table, listed []tableSkip, d *Decision, now time.Time) []Skip {
	if len(listed) == 0 {
		return nil
	}
	out := make([]Skip, len(listed))
	for k, s := range listed {
		in := t.Info(s.i)
		var why string
		switch s.kind {
		case skipMismatch:
			c := tableCandidate(t, s.i)
			why = mismatch(&c, d.Requires)
		case skipNotReady:
			why = notReady(t, s.i, now)
		case skipFull:
			why = full(s.running, int(t.Rows()[s.i].Slots))
		}
		out[k] = Skip{ID: in.ID, Why: why}
	}
	slices.SortFunc(out, func(a, b Skip) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// notReady says why a row takes no work, in the words the front end uses
// for a registry node (frontend.Candidate).
func notReady(t *fleet.Table, i int, now time.Time) string {
	row, in := &t.Rows()[i], t.Info(i)
	switch {
	case row.State == fleet.StateLeaving:
		return "has left"
	case t.At(now) > row.StaleAt:
		return fmt.Sprintf("is stale (last heartbeat %s ago)", now.Sub(in.Seen).Round(100*time.Millisecond))
	case row.State == fleet.StateDraining:
		return "is draining"
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
