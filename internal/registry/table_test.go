package registry

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/fabric-run/fabric/internal/wire"
)

func beat(id, host, os string, caps ...string) *wire.Heartbeat {
	return &wire.Heartbeat{Node: id, Hostname: host, OS: os, Arch: "amd64", Capabilities: append([]string{"any"}, caps...),
		CPUs: 4, Slots: 4, State: wire.StateReady}
}

// check verifies the table's invariants: index, ranks in id order, hosts.
func check(t *testing.T, tab *Table) {
	t.Helper()
	hosts := map[string]int{}
	for i := range tab.rows {
		id := tab.nodes[i].Node
		if j, ok := tab.index[id]; !ok || j != i {
			t.Fatalf("index[%s] = %d, %v; want %d", id, j, ok, i)
		}
		if r := tab.rows[i].Rank; int(r) >= len(tab.sorted) || tab.sorted[r] != id {
			t.Fatalf("rank of %s = %d, sorted %v", id, r, tab.sorted)
		}
		hosts[tab.nodes[i].Hostname]++
	}
	if len(tab.index) != len(tab.rows) || len(tab.sorted) != len(tab.rows) || !slices.IsSorted(tab.sorted) {
		t.Fatalf("index %d, sorted %d (%v), rows %d", len(tab.index), len(tab.sorted), tab.sorted, len(tab.rows))
	}
	for h, n := range hosts {
		id, got := tab.OnHost(h)
		if got != n {
			t.Fatalf("OnHost(%s) = %d nodes, want %d", h, got, n)
		}
		if i, ok := tab.Index(id); !ok || tab.nodes[i].Hostname != h {
			t.Fatalf("OnHost(%s) names %q, not on it", h, id)
		}
	}
	if len(tab.hosts) != len(hosts) {
		t.Fatalf("%d hosts counted, %d present", len(tab.hosts), len(hosts))
	}
}

func TestTableJoinsMovesLeaves(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tab := NewTable()
	now := time.Now()
	live := map[string]bool{}
	for step := range 3000 {
		id := fmt.Sprintf("n%03d", rng.IntN(200))
		if live[id] && rng.IntN(3) == 0 {
			tab.Remove(id)
			delete(live, id)
		} else {
			tab.Update(beat(id, fmt.Sprintf("h%d", rng.IntN(20)), "linux"), now, time.Second)
			live[id] = true
		}
		if step%100 == 0 {
			check(t, tab)
		}
	}
	check(t, tab)
	if tab.Len() != len(live) {
		t.Fatalf("Len = %d, want %d", tab.Len(), len(live))
	}
}

func TestTableMatch(t *testing.T) {
	tab := NewTable()
	now := time.Now()
	tab.Update(beat("a", "h", "linux", "docker"), now, time.Second)
	tab.Update(beat("b", "h", "darwin", "swift"), now, time.Second)
	tab.Update(beat("c", "h", "", "docker", "gpu"), now, time.Second)
	tests := []struct {
		req  wire.Requirements
		want []string
	}{
		{wire.Requirements{}, []string{"a", "b", "c"}},
		{wire.Requirements{OS: "linux"}, []string{"a"}},
		{wire.Requirements{Capabilities: []string{"docker"}}, []string{"a", "c"}},
		{wire.Requirements{Capabilities: []string{"any", "gpu"}}, []string{"c"}},
		{wire.Requirements{Capabilities: []string{"fpga"}}, nil},
		{wire.Requirements{OS: "plan9"}, nil},
		{wire.Requirements{Node: "b"}, []string{"b"}},
		{wire.Requirements{Node: "zz"}, nil},
		{wire.Requirements{Node: "b", OS: "linux"}, nil},
	}
	for _, tt := range tests {
		q := tab.Compile(tt.req, false)
		var got []string
		for i := range tab.Len() {
			if tab.Match(&q, i) {
				got = append(got, tab.Node(i).Node)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("Match(%s) = %v, want %v", tt.req, got, tt.want)
		}
	}
}

// TestTableOddTokens: past MaxCapBits distinct capabilities (or 254 OSes),
// tokens are no longer interned; nodes having them still match, by string.
func TestTableOddTokens(t *testing.T) {
	tab := NewTable()
	now := time.Now()
	for i := range 270 {
		tab.Update(beat(fmt.Sprintf("n%03d", i), "h", fmt.Sprintf("os%03d", i), fmt.Sprintf("cap%03d", i)), now, time.Second)
	}
	for i := range 270 {
		id, capName, osName := fmt.Sprintf("n%03d", i), fmt.Sprintf("cap%03d", i), fmt.Sprintf("os%03d", i)
		for _, req := range []wire.Requirements{{Capabilities: []string{capName}}, {OS: osName}} {
			q := tab.Compile(req, false)
			var got []string
			for j := range tab.Len() {
				if tab.Match(&q, j) {
					got = append(got, tab.Node(j).Node)
				}
			}
			if len(got) != 1 || got[0] != id {
				t.Fatalf("Match(%s) = %v, want [%s]", req, got, id)
			}
		}
	}
	if !tab.rows[tab.index["n137"]].OddCaps || tab.rows[tab.index["n001"]].OddCaps {
		t.Fatal("odd capabilities not marked as such")
	}
	if tab.rows[tab.index["n260"]].OS != OddSym || tab.rows[tab.index["n001"]].OS == OddSym {
		t.Fatal("odd OS not marked as such")
	}
}

func TestTableStaleness(t *testing.T) {
	tab := NewTable()
	t0 := time.Now()
	tab.Update(beat("a", "h", "linux"), t0, 3*time.Second)
	row := tab.Rows()[0]
	if tab.At(t0.Add(3*time.Second)) > row.ReadyUntil || tab.At(t0.Add(3*time.Second+1)) <= row.ReadyUntil {
		t.Fatalf("stale boundary wrong: ReadyUntil %d", row.ReadyUntil)
	}
	if row.ReadyUntil != tab.Load(0).StaleAt {
		t.Fatalf("ReadyUntil %d, StaleAt %d", row.ReadyUntil, tab.Load(0).StaleAt)
	}
	draining := beat("a", "h", "linux")
	draining.State = wire.StateDraining
	tab.Update(draining, t0, 3*time.Second)
	if tab.At(t0) <= tab.Rows()[0].ReadyUntil {
		t.Fatal("a draining node is ready")
	}
}

func TestRowSize(t *testing.T) {
	if s := unsafe.Sizeof(Row{}); s > 40 {
		t.Errorf("Row is %d bytes; placement scans a row per node per decision, keep it small", s)
	}
}

func TestTableUpdateAllocs(t *testing.T) {
	tab := NewTable()
	hb := beat("a", "h", "linux", "docker", "make")
	now := time.Now()
	tab.Update(hb, now, time.Second)
	if a := testing.AllocsPerRun(100, func() { tab.Update(hb, now, time.Second) }); a != 0 {
		t.Errorf("Update of a known node: %.0f allocations, want 0", a)
	}
}

func TestTableSilent(t *testing.T) {
	tab := NewTable()
	t0 := time.Now()
	tab.Update(beat("a", "h", "linux"), t0, time.Second)
	tab.Update(beat("b", "h", "linux"), t0.Add(5*time.Second), time.Second)
	flips, gone := tab.Silent(t0.Add(500*time.Millisecond), time.Minute, nil, nil)
	if len(flips) != 0 || len(gone) != 0 {
		t.Fatalf("fresh: flips %v gone %v", flips, gone)
	}
	flips, _ = tab.Silent(t0.Add(2*time.Second), time.Minute, nil, nil)
	if len(flips) != 1 || tab.Node(flips[0]).Node != "a" {
		t.Fatalf("a stale: flips %v", flips)
	}
	tab.MarkStale(flips[0], true)
	if flips, _ = tab.Silent(t0.Add(2*time.Second), time.Minute, nil, nil); len(flips) != 0 {
		t.Fatalf("marked: flips %v", flips)
	}
	_, gone = tab.Silent(t0.Add(61*time.Second), time.Minute, nil, nil)
	if !slices.Equal(gone, []string{"a"}) {
		t.Fatalf("gone %v", gone)
	}
}

// TestScore: the placement score is cpu%/100 + load1/cpus + 0.5·mem%/100 +
// 2·running/slots.
func TestScore(t *testing.T) {
	if got, want := Score(LoadIndex(50, 40, 2, 4), 1, PerTask(4)), 0.5+0.5+0.2+0.5; got != want {
		t.Fatalf("score = %v, want %v", got, want)
	}
}
