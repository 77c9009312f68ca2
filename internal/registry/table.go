package registry

import (
	"math"
	"slices"
	"time"

	"github.com/fabric-run/fabric/internal/wire"
)

// The node table is the registry's one representation of the cluster: one
// small fixed-size Row per node, with its capabilities interned as a
// bitset, its OS and architecture as small numbers, its load already
// reduced to one number and its liveness as a deadline, so that filtering
// ten thousand nodes is bit operations over contiguous memory and
// allocates nothing. The whole Node (what status views show and reasons
// name) sits beside its row, read only for the few nodes a decision names.
//
// A Table is not safe for concurrent use: the Registry guards it, updating
// it from heartbeats and SSH probes and letting the router read it (View).

// State is a row's readiness, as a small number.
type State uint8

// The row states: the three a heartbeat reports, and an SSH machine that
// did not answer its probe.
const (
	StateReady State = iota
	StateDraining
	StateLeaving
	StateUnreachable
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
// The router adds 2·running/slots. Computed once per heartbeat or probe,
// not once per placement.
func LoadIndex(cpuPercent, memPercent, load1 float64, cpus int) float64 {
	return cpuPercent/100 + load1/float64(max(cpus, 1)) + 0.5*memPercent/100
}

// PerTask is what each running task adds to a node's placement score:
// 2/slots (a node with one slot taken of two scores one more).
func PerTask(slots int) float64 { return 2 / float64(max(slots, 1)) }

// Score is a node's placement score, lower is better: its load index plus
// perTask for each running task.
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
	// takes work: when a worker goes stale if no heartbeat comes, never
	// (math.MinInt64) while it is draining or leaving or an SSH machine is
	// unreachable, always (math.MaxInt64) for a reachable SSH machine.
	ReadyUntil int64
	// Score is the node's placement score with the running tasks it
	// reported: Load + Running·PerTask (the router's score function).
	Score float64
	// Running is the node's reported running tasks; Slots its slots.
	Running, Slots int32
	// Rank is the node's place in id order: comparing ranks compares ids
	// (placement breaks score ties by id).
	Rank int32
	// OS and Arch are interned; OddSym means compare the Node's strings.
	OS, Arch Sym
	State    State
	// OddCaps is set when some capability has no bit: compare the Node's
	// list.
	OddCaps bool
}

// Load is what placement reads of a node only when it must score it with
// more running tasks than it reported (its own placements in flight), and
// what the reaper reads.
type Load struct {
	// Index is LoadIndex of the last heartbeat or probe.
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
	// Probed is set for an SSH machine: its load comes from probes, so it
	// never goes stale or is forgotten for want of heartbeats.
	Probed bool
}

// Table is the compact node table. The zero value is not usable; use
// NewTable.
type Table struct {
	// epoch is the origin of the table's time: the first heartbeat's
	// arrival. Times are durations from it, so they keep the monotonic
	// clock's meaning (a wall clock step does not make nodes stale).
	epoch    time.Time
	hasEpoch bool
	rows     []Row
	loads    []Load
	nodes    []Node
	// clocks estimate each worker's clock offset (Node.ClockOffset); kept
	// apart so that a Node (copied into every decision) stays small.
	clocks []clockEstimate
	index  map[string]int
	// sorted are the ids in order; a row's Rank is its id's place here.
	sorted []string
	caps   symbols
	oses   symbols
	arch   symbols
	// hosts counts the workers on each host (SSH machines are not this
	// front end's neighbours: they never count as its local node).
	hosts map[string]hostNodes
}

// hostNodes counts the nodes on one host and names one of them.
type hostNodes struct {
	n  int
	id string
}

// NewTable returns an empty Table.
func NewTable() *Table {
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

// Node returns the node of row i, to read only, valid until the table
// changes. Its strings and lists are never modified in place (a new
// heartbeat replaces them), so a copy of it may be kept.
func (t *Table) Node(i int) *Node { return &t.nodes[i] }

// Index returns the row of node id.
func (t *Table) Index(id string) (int, bool) {
	i, ok := t.index[id]
	return i, ok
}

// IDs returns every node id, sorted.
func (t *Table) IDs() []string { return slices.Clone(t.sorted) }

// OnHost returns the id of a worker whose hostname is host and how many
// workers there are on it.
func (t *Table) OnHost(host string) (id string, n int) {
	h := t.hosts[host]
	return h.id, h.n
}

// Update records hb, seen at seen, as worker hb.Node's state; it goes stale
// staleAfter later. A worker takes the row of an SSH machine of the same
// name: the machine is then reached through its worker. Unchanged strings
// and lists are kept as they are. It returns the node, valid until the
// table changes, and whether it joined.
func (t *Table) Update(hb *wire.Heartbeat, seen time.Time, staleAfter time.Duration) (n *Node, joined bool) {
	if !t.hasEpoch {
		t.epoch, t.hasEpoch = seen, true
	}
	i, ok := t.row(hb.Node)
	n = &t.nodes[i]
	c := &t.clocks[i]
	c.add(hb.Instance, hb.Time, seen)
	n.ClockOffset = c.offset()
	worker := ok && n.Via == wire.ViaNATS
	if !worker || n.Hostname != hb.Hostname {
		if worker {
			t.leaveHost(n.Hostname, n.Node)
		}
		t.joinHost(hb.Hostname, hb.Node)
	}
	t.describe(i, ok, hb.OS, hb.Arch, hb.Capabilities)
	n.Heartbeat, n.Seen, n.Via, n.Reason = *hb, seen, wire.ViaNATS, ""
	l := &t.loads[i]
	l.SeenAt = t.At(seen)
	l.StaleAt = l.SeenAt + int64(staleAfter)
	l.Probed = false
	readyUntil := l.StaleAt
	if stateOf(hb.State) != StateReady {
		readyUntil = math.MinInt64
	}
	t.score(i, stateOf(hb.State), readyUntil)
	return n, !worker
}

// Probed records an SSH machine's state from its last probe (at m.Seen;
// zero if it was never probed), in row m.Node, as of now. m.Via is
// wire.ViaSSH; m.Reason says why the machine is unreachable, empty when it
// answered. The caller checks that no worker holds the row.
func (t *Table) Probed(m *Node, now time.Time) {
	if !t.hasEpoch {
		t.epoch, t.hasEpoch = now, true
	}
	i, ok := t.row(m.Node)
	t.describe(i, ok, m.OS, m.Arch, m.Capabilities)
	t.nodes[i], t.clocks[i] = *m, clockEstimate{}
	l := &t.loads[i]
	l.SeenAt, l.StaleAt, l.Probed, l.Stale = 0, math.MaxInt64, true, false
	if !m.Seen.IsZero() {
		l.SeenAt = t.At(m.Seen)
	}
	state, readyUntil := StateReady, int64(math.MaxInt64)
	if m.Reason != "" {
		state, readyUntil = StateUnreachable, math.MinInt64
	}
	t.score(i, state, readyUntil)
}

// row returns the row of id, adding one if there is none (ok false).
func (t *Table) row(id string) (i int, ok bool) {
	if i, ok = t.index[id]; ok {
		return i, true
	}
	i = len(t.rows)
	t.index[id] = i
	t.rows = append(t.rows, Row{Rank: t.rank(id)})
	t.loads = append(t.loads, Load{})
	t.nodes = append(t.nodes, Node{Heartbeat: wire.Heartbeat{Node: id}})
	t.clocks = append(t.clocks, clockEstimate{})
	return i, false
}

// describe interns row i's OS, architecture and capabilities where they
// changed (old says the row held a node before).
func (t *Table) describe(i int, old bool, osName, arch string, caps []string) {
	row, n := &t.rows[i], &t.nodes[i]
	if !old || n.OS != osName {
		row.OS = t.sym(&t.oses, osName)
	}
	if !old || n.Arch != arch {
		row.Arch = t.sym(&t.arch, arch)
	}
	if !old || !sameStrings(n.Capabilities, caps) {
		row.Caps, row.OddCaps = 0, false
		for _, c := range caps {
			if bit, ok := t.caps.intern(c); ok {
				row.Caps.add(bit)
			} else {
				row.OddCaps = true
			}
		}
	}
}

// score sets row i's load from its node, with its state and readiness.
func (t *Table) score(i int, state State, readyUntil int64) {
	row, l, n := &t.rows[i], &t.loads[i], &t.nodes[i]
	l.Index = LoadIndex(n.CPUPercent, n.MemPercent, n.Load1, n.CPUs)
	l.PerTask = PerTask(n.Slots)
	row.Running, row.Slots = clamp32(n.Running), clamp32(n.Slots)
	row.Score = Score(l.Index, int(row.Running), l.PerTask)
	row.State, row.ReadyUntil = state, readyUntil
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
	if t.nodes[i].Via == wire.ViaNATS {
		t.leaveHost(t.nodes[i].Hostname, id)
	}
	t.unrank(t.rows[i].Rank)
	last := len(t.rows) - 1
	if i != last {
		t.rows[i], t.loads[i], t.nodes[i], t.clocks[i] = t.rows[last], t.loads[last], t.nodes[last], t.clocks[last]
		t.index[t.nodes[i].Node] = i
	}
	t.nodes[last], t.clocks[last] = Node{}, clockEstimate{} // drop their references
	t.rows, t.loads, t.nodes, t.clocks = t.rows[:last], t.loads[:last], t.nodes[:last], t.clocks[:last]
	delete(t.index, id)
}

// SetRunning records that node id runs running tasks (fewer than its last
// heartbeat said: one of them ended; or, for an SSH machine, how many this
// front end runs there).
func (t *Table) SetRunning(id string, running int) {
	i, ok := t.index[id]
	if !ok {
		return
	}
	row, l := &t.rows[i], &t.loads[i]
	t.nodes[i].Running = running
	row.Running = clamp32(running)
	row.Score = Score(l.Index, int(row.Running), l.PerTask)
}

// Silent appends to flips the worker rows whose staleness at now differs
// from what MarkStale last recorded, and to gone the ids of the workers
// silent for longer than goneAfter. It reads the table only: one pass over
// small rows, cheap enough to run every 100 ms under a read lock. SSH
// machines are never silent: their probes are taken when needed.
func (t *Table) Silent(now time.Time, goneAfter time.Duration, flips []int, gone []string) ([]int, []string) {
	at := t.At(now)
	for i := range t.loads {
		l := &t.loads[i]
		switch {
		case l.Probed:
		case at-l.SeenAt > int64(goneAfter):
			gone = append(gone, t.nodes[i].Node)
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

func (t *Table) joinHost(host, id string) {
	h := t.hosts[host]
	h.n++
	if h.id == "" {
		h.id = id
	}
	t.hosts[host] = h
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
		for i := range t.nodes {
			if n := &t.nodes[i]; n.Via == wire.ViaNATS && n.Hostname == host && n.Node != id {
				h.id = n.Node
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
