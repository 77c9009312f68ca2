// Package fleet is the compact table of a cluster's nodes that placement
// scans: one small fixed-size row per node, with its capabilities interned
// as a bitset, its OS and architecture as small numbers, its load already
// reduced to one number and its liveness as a deadline, so that filtering
// ten thousand nodes is bit operations over contiguous memory and allocates
// nothing. What people read (names, lists) sits beside it, looked at only
// for the few nodes a decision names.
//
// A Table is not safe for concurrent use: its owner (the registry) guards
// it, updating it from heartbeats and letting the router read it.
package fleet

import (
	"math"
	"slices"
	"time"

	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/subjects"
)

// State is a node's own account of itself, as a small number.
type State uint8

// The states a heartbeat reports.
const (
	StateReady State = iota
	StateDraining
	StateLeaving
)

func stateOf(s string) State {
	switch s {
	case wire.StateDraining:
		return StateDraining
	case wire.StateLeaving:
		return StateLeaving
	}
	return StateReady
}

// LoadIndex is the load part of a node's placement score, lower is better:
//
//	cpu%/100 + load1/cpus + 0.5·mem%/100
//
// The router adds 2·running/slots. Computed once per heartbeat, not once
// per placement.
func LoadIndex(cpuPercent, memPercent, load1 float64, cpus int) float64 {
	return cpuPercent/100 + load1/float64(max(cpus, 1)) + 0.5*memPercent/100
}

// PerTask is what each running task adds to a node's placement score:
// 2/slots (a node with one slot taken of two scores one more).
func PerTask(slots int) float64 { return 2 / float64(max(slots, 1)) }

// Score is a node's placement score, lower is better: its load index plus
// perTask for each running task. The router scores with it, from a table
// row or from a candidate, so both rank alike to the last bit.
func Score(loadIndex float64, running int, perTask float64) float64 {
	return loadIndex + float64(running)*perTask
}

// Row is what placement reads of a node for every decision. Rows are
// small (40 bytes), fixed-size and contiguous: ten thousand fit in a
// core's L2 cache.
type Row struct {
	// Caps are the node's capabilities that have a bit.
	Caps CapSet
	// ReadyUntil is until when, in the table's time (Table.At), the node
	// takes work: when it goes stale if no heartbeat comes, or never
	// (math.MinInt64) while it is draining or leaving.
	ReadyUntil int64
	// Score is the node's placement score with the running tasks it
	// reported: Load + Running·PerTask (the router's score function).
	Score float64
	// Running is the node's reported running tasks; Slots its slots.
	Running, Slots int32
	// Rank is the node's place in id order: comparing ranks compares ids
	// (placement breaks score ties by id).
	Rank int32
	// OS and Arch are interned; OddSym means compare Info's strings.
	OS, Arch Sym
	State    State
	// OddCaps is set when some capability has no bit: compare Info's list.
	OddCaps bool
}

// Load is what placement reads of a node only when it must score it with
// more running tasks than it reported (its own placements in flight).
type Load struct {
	// Index is LoadIndex of the last heartbeat.
	Index float64
	// PerTask is what each running task adds to the score: PerTask(Slots).
	PerTask float64
	// StaleAt is when the node goes stale if no heartbeat comes (table
	// time), whatever its state.
	StaleAt int64
	// SeenAt is when the last heartbeat came (table time).
	SeenAt int64
	// Stale is the staleness the table's owner last recorded (MarkStale).
	Stale bool
}

// Info is the rest of what is known of a node: for reasons, decisions and
// the few rows a requirement cannot decide by bits. Its fields are never
// modified in place (a new heartbeat replaces the strings and slices), so
// they may be kept after the table changes.
type Info struct {
	ID, Hostname           string
	OS, Arch               string
	Capabilities           []string
	CPUPercent, MemPercent float64
	Load1                  float64
	CPUs                   int
	// Seen is when the last heartbeat arrived (front end's clock).
	Seen time.Time
}

// Table is the compact node table. The zero value is not usable; use New.
type Table struct {
	// epoch is the origin of the table's time: the first heartbeat's
	// arrival. Times are durations from it, so they keep the monotonic
	// clock's meaning (a wall clock step does not make nodes stale).
	epoch    time.Time
	hasEpoch bool
	rows     []Row
	loads    []Load
	info     []Info
	index    map[string]int
	// sorted are the ids in order; a row's Rank is its id's place here.
	sorted []string
	caps   symbols
	oses   symbols
	arch   symbols
	hosts  map[string]hostNodes
}

// hostNodes counts the nodes on one host and names one of them.
type hostNodes struct {
	n  int
	id string
}

// New returns an empty Table.
func New() *Table {
	return &Table{
		index: map[string]int{},
		caps:  newSymbols(MaxCapBits),
		oses:  newSymbols(int(OddSym) - 1),
		arch:  newSymbols(int(OddSym) - 1),
		hosts: map[string]hostNodes{},
	}
}

// At returns the table's time for now (nanoseconds since its epoch), the
// scale of Row.ReadyUntil and Load.StaleAt: a node is stale when
// At(now) > StaleAt.
func (t *Table) At(now time.Time) int64 { return int64(now.Sub(t.epoch)) }

// Len returns how many nodes the table holds.
func (t *Table) Len() int { return len(t.rows) }

// Rows returns the rows, to read only, valid until the table changes.
func (t *Table) Rows() []Row { return t.rows }

// Load returns the load of row i, to read only.
func (t *Table) Load(i int) *Load { return &t.loads[i] }

// Info returns what is known of row i, to read only.
func (t *Table) Info(i int) *Info { return &t.info[i] }

// Index returns the row of node id.
func (t *Table) Index(id string) (int, bool) {
	i, ok := t.index[id]
	return i, ok
}

// IDs returns every node id, sorted.
func (t *Table) IDs() []string {
	out := make([]string, len(t.info))
	for i := range t.info {
		out[i] = t.info[i].ID
	}
	slices.Sort(out)
	return out
}

// OnHost returns the id of a node whose hostname is host and how many
// nodes there are on it.
func (t *Table) OnHost(host string) (id string, n int) {
	h := t.hosts[host]
	return h.id, h.n
}

// Update records hb, seen at seen, as node hb.Node's state; it goes stale
// staleAfter later. Unchanged strings and lists are kept as they are.
func (t *Table) Update(hb *wire.Heartbeat, seen time.Time, staleAfter time.Duration) {
	if !t.hasEpoch {
		t.epoch, t.hasEpoch = seen, true
	}
	i, ok := t.index[hb.Node]
	if !ok {
		i = len(t.rows)
		t.index[hb.Node] = i
		t.rows = append(t.rows, Row{Rank: t.rank(hb.Node)})
		t.loads = append(t.loads, Load{})
		t.info = append(t.info, Info{ID: hb.Node})
	}
	in := &t.info[i]
	if !ok || in.Hostname != hb.Hostname {
		if ok {
			t.leaveHost(in.Hostname, in.ID)
		}
		h := t.hosts[hb.Hostname]
		h.n++
		if h.id == "" {
			h.id = hb.Node
		}
		t.hosts[hb.Hostname] = h
	}
	row := &t.rows[i]
	if !ok || in.OS != hb.OS {
		row.OS = t.sym(&t.oses, hb.OS)
	}
	if !ok || in.Arch != hb.Arch {
		row.Arch = t.sym(&t.arch, hb.Arch)
	}
	if !ok || !sameStrings(in.Capabilities, hb.Capabilities) {
		row.Caps, row.OddCaps = 0, false
		for _, c := range hb.Capabilities {
			if bit, ok := t.caps.intern(c); ok {
				row.Caps.add(bit)
			} else {
				row.OddCaps = true
			}
		}
	}
	*in = Info{ID: hb.Node, Hostname: hb.Hostname, OS: hb.OS, Arch: hb.Arch,
		Capabilities: hb.Capabilities, CPUPercent: hb.CPUPercent, MemPercent: hb.MemPercent,
		Load1: hb.Load1, CPUs: hb.CPUs, Seen: seen}
	l := &t.loads[i]
	l.Index = LoadIndex(hb.CPUPercent, hb.MemPercent, hb.Load1, hb.CPUs)
	l.PerTask = PerTask(hb.Slots)
	l.SeenAt = t.At(seen)
	l.StaleAt = l.SeenAt + int64(staleAfter)
	row.Running, row.Slots = clamp32(hb.Running), clamp32(hb.Slots)
	row.Score = Score(l.Index, int(row.Running), l.PerTask)
	row.State = stateOf(hb.State)
	row.ReadyUntil = l.StaleAt
	if row.State != StateReady {
		row.ReadyUntil = math.MinInt64
	}
}

func (t *Table) sym(s *symbols, name string) Sym {
	if name == "" {
		return NoSym
	}
	i, ok := s.intern(name)
	if !ok {
		return OddSym
	}
	return Sym(i + 1)
}

// Remove forgets node id. The last row moves into its place.
func (t *Table) Remove(id string) {
	i, ok := t.index[id]
	if !ok {
		return
	}
	t.leaveHost(t.info[i].Hostname, id)
	t.unrank(t.rows[i].Rank)
	last := len(t.rows) - 1
	if i != last {
		t.rows[i], t.loads[i], t.info[i] = t.rows[last], t.loads[last], t.info[last]
		t.index[t.info[i].ID] = i
	}
	t.info[last] = Info{} // drop its references
	t.rows, t.loads, t.info = t.rows[:last], t.loads[:last], t.info[:last]
	delete(t.index, id)
}

// SetRunning records that node id runs running tasks (fewer than its last
// heartbeat said: one of them ended).
func (t *Table) SetRunning(id string, running int) {
	i, ok := t.index[id]
	if !ok {
		return
	}
	row, l := &t.rows[i], &t.loads[i]
	row.Running = clamp32(running)
	row.Score = Score(l.Index, int(row.Running), l.PerTask)
}

// Silent appends to flips the rows whose staleness at now differs from what
// MarkStale last recorded, and to gone the ids of the nodes silent for
// longer than goneAfter. It reads the table only: one pass over small
// rows, cheap enough to run every 100 ms under a read lock.
func (t *Table) Silent(now time.Time, goneAfter time.Duration, flips []int, gone []string) ([]int, []string) {
	at := t.At(now)
	for i := range t.loads {
		l := &t.loads[i]
		switch {
		case at-l.SeenAt > int64(goneAfter):
			gone = append(gone, t.info[i].ID)
		case (at > l.StaleAt) != l.Stale:
			flips = append(flips, i)
		}
	}
	return flips, gone
}

// MarkStale records the staleness of row i (see Silent).
func (t *Table) MarkStale(i int, stale bool) { t.loads[i].Stale = stale }

// rank places a new id in id order, shifting the ranks after it, and
// returns its rank. Joining costs O(nodes); it is rare beside heartbeats.
func (t *Table) rank(id string) int32 {
	p, _ := slices.BinarySearch(t.sorted, id)
	t.sorted = slices.Insert(t.sorted, p, id)
	for i := range t.rows {
		if t.rows[i].Rank >= int32(p) {
			t.rows[i].Rank++
		}
	}
	return int32(p)
}

// unrank takes rank r out of id order.
func (t *Table) unrank(r int32) {
	t.sorted = slices.Delete(t.sorted, int(r), int(r)+1)
	for i := range t.rows {
		if t.rows[i].Rank > r {
			t.rows[i].Rank--
		}
	}
}

func (t *Table) leaveHost(host, id string) {
	h := t.hosts[host]
	h.n--
	if h.n <= 0 {
		delete(t.hosts, host)
		return
	}
	if h.id == id {
		h.id = ""
		for i := range t.info {
			if t.info[i].Hostname == host && t.info[i].ID != id {
				h.id = t.info[i].ID
				break
			}
		}
	}
	t.hosts[host] = h
}

func sameStrings(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0] || slices.Equal(a, b))
}

func clamp32(n int) int32 {
	return int32(max(min(n, 1<<31-1), -1<<31))
}

// Query is a requirement compiled against a table: what a row must have,
// as bits and symbols. Build it with Compile, after any Update that might
// intern a new token.
type Query struct {
	caps CapSet
	os   Sym
	arch Sym
	node int // the row required; -1 for any, -2 for none
	// odd is set when a requirement token has no symbol: no row has it by
	// bits, only rows odd in that respect may, by their strings.
	odd            bool
	oddOS, oddArch string
	oddCaps        []string
}

// Compile turns r into a Query over t. r is assumed normalised (the
// router's validate). The "any" capability matches every node.
func (t *Table) Compile(r wire.Requirements) Query {
	q := Query{node: -1}
	if r.OS != "" {
		if i, ok := t.oses.lookup(r.OS); ok {
			q.os = Sym(i + 1)
		} else {
			q.os, q.oddOS, q.odd = OddSym, r.OS, true
		}
	}
	if r.Arch != "" {
		if i, ok := t.arch.lookup(r.Arch); ok {
			q.arch = Sym(i + 1)
		} else {
			q.arch, q.oddArch, q.odd = OddSym, r.Arch, true
		}
	}
	for _, c := range r.Capabilities {
		if c == subjects.AnyCapability {
			continue
		}
		if bit, ok := t.caps.lookup(c); ok {
			q.caps.add(bit)
		} else {
			q.oddCaps, q.odd = append(q.oddCaps, c), true
		}
	}
	if r.Node != "" {
		if i, ok := t.index[r.Node]; ok {
			q.node = i
		} else {
			q.node = -2
		}
	}
	return q
}

// Match reports whether row i meets the query.
func (t *Table) Match(q *Query, i int) bool {
	return q.Bits(&t.rows[i], i) && (!q.odd || t.MatchOdd(q, i))
}

// Bits is the part of Match decided by bits and symbols; small enough to
// inline in a scan. Where it holds and q.Odd(), MatchOdd decides.
func (q *Query) Bits(row *Row, i int) bool {
	return row.Caps&q.caps == q.caps && (q.os == NoSym || row.OS == q.os) &&
		(q.arch == NoSym || row.Arch == q.arch) && (q.node == -1 || q.node == i)
}

// Odd reports whether the query has tokens only strings can decide.
func (q *Query) Odd() bool { return q.odd }

// MatchOdd is the rest of Match for an odd query: the strings.
func (t *Table) MatchOdd(q *Query, i int) bool {
	row := &t.rows[i]
	if q.oddOS != "" && t.info[i].OS != q.oddOS {
		return false
	}
	if q.oddArch != "" && t.info[i].Arch != q.oddArch {
		return false
	}
	if len(q.oddCaps) > 0 {
		if !row.OddCaps {
			return false
		}
		for _, c := range q.oddCaps {
			if !slices.Contains(t.info[i].Capabilities, c) {
				return false
			}
		}
	}
	return true
}
