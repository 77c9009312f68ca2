package router_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/fleet"
	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/router"
	"github.com/fabric-run/fabric/internal/wire"
)

// offsetClock is the real clock shifted by a settable offset: nodes can be
// seen in the past, while frontend.Candidate (which uses time.Since) and
// the registry agree on how long ago.
type offsetClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *offsetClock) set(d time.Duration) {
	c.mu.Lock()
	c.off = d
	c.mu.Unlock()
}

// randomCluster fills a registry with n nodes of every kind: several OSes
// and arches (and an unknown one), capability mixes, draining, leaving and
// stale nodes, full ones, equal loads (ties are broken by id).
func randomCluster(rng *rand.Rand, clk *offsetClock, n int) *registry.Registry {
	reg := registry.New(nil, registry.Config{Now: clk.Now})
	oses := []string{"linux", "linux", "linux", "darwin", "windows", ""}
	arches := []string{"amd64", "amd64", "arm64", ""}
	capsPool := []string{"docker", "make", "gcc", "go", "gpu", "swift", "cargo", "python3"}
	for i := range n {
		var caps []string
		caps = append(caps, "any")
		for _, c := range capsPool {
			if rng.IntN(3) == 0 {
				caps = append(caps, c)
			}
		}
		state := wire.StateReady
		switch rng.IntN(10) {
		case 0:
			state = wire.StateDraining
		case 1:
			state = wire.StateLeaving
		}
		slots := rng.IntN(5)
		hb := &wire.Heartbeat{Node: fmt.Sprintf("n%02d-%c", i, 'a'+rune(rng.IntN(26))), Instance: "i", Hostname: fmt.Sprintf("h%d", rng.IntN(4)),
			OS: oses[rng.IntN(len(oses))], Arch: arches[rng.IntN(len(arches))], Capabilities: caps,
			CPUPercent: float64(rng.IntN(4) * 25), MemPercent: float64(rng.IntN(3) * 30), Load1: float64(rng.IntN(3)) / 2,
			CPUs: rng.IntN(5), Running: rng.IntN(slots + 1), Slots: slots, State: state, Interval: wire.Duration(time.Second)}
		if rng.IntN(8) == 0 {
			clk.set(-time.Duration(4+rng.IntN(5)) * time.Second) // stale
		}
		reg.Observe(hb)
		clk.set(0)
	}
	return reg
}

var staleText = regexp.MustCompile(`last heartbeat [^)]* ago`)

// same compares two decisions, minus the stale durations (measured at two
// slightly different instants).
func same(a, b *router.Decision) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	x.Reason, y.Reason = staleText.ReplaceAllString(x.Reason, ""), staleText.ReplaceAllString(y.Reason, "")
	x.Skipped, y.Skipped = scrub(x.Skipped), scrub(y.Skipped)
	return reflect.DeepEqual(x, y)
}

func scrub(s []router.Skip) []router.Skip {
	out := make([]router.Skip, len(s))
	for i, k := range s {
		out[i] = router.Skip{ID: k.ID, Why: staleText.ReplaceAllString(k.Why, "")}
	}
	return out
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return staleText.ReplaceAllString(err.Error(), "")
}

// TestRouteTableDecidesAsRoute: over random clusters and requests, routing
// over the registry's compact table gives exactly the decision (order,
// reasons, skips, errors) of routing over the front end's candidate list,
// including a batch placed one task after another.
func TestRouteTableDecidesAsRoute(t *testing.T) {
	commands := []string{"make -j8", "docker build .", "ls -la", "swift build", "uname -a", "nvidia-smi", "cargo test", "go test ./...", "true", "echo 'unterminated"}
	for seed := range 200 {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		clk := &offsetClock{}
		reg := randomCluster(rng, clk, 1+rng.IntN(25))
		nodes := reg.Snapshot()
		cands := make([]router.Candidate, len(nodes))
		for i, n := range nodes {
			cands[i] = frontend.Candidate(n)
		}
		slice, table := router.New(router.Config{}), router.New(router.Config{})
		for k := range 12 {
			req := router.Request{Command: commands[rng.IntN(len(commands))], Batch: rng.IntN(2) == 0}
			if rng.IntN(5) == 0 {
				req.Command, req.Argv = "", []string{"docker", "ps"}
			}
			switch rng.IntN(6) {
			case 0:
				req.Requires.OS = []string{"linux", "darwin", "macos", "plan9"}[rng.IntN(4)]
			case 1:
				req.Requires.Arch = []string{"amd64", "aarch64", "riscv64"}[rng.IntN(3)]
			case 2:
				req.Requires.Capabilities = []string{[]string{"docker", "gpu", "any", "fpga"}[rng.IntN(4)]}
			case 3:
				if len(nodes) > 0 && rng.IntN(2) == 0 {
					req.Requires.Node = nodes[rng.IntN(len(nodes))].Node
				} else {
					req.Requires.Node = "nowhere"
				}
			}
			if len(nodes) > 0 && rng.IntN(2) == 0 {
				req.Local = nodes[rng.IntN(len(nodes))].Node
			}
			place := k%3 != 2
			var want, got *router.Decision
			var wantErr, gotErr error
			if place {
				want, wantErr = slice.Place(req, cands)
			} else {
				want, wantErr = slice.Route(req, cands)
			}
			reg.View(func(tab *fleet.Table, now time.Time) {
				if place {
					got, gotErr = table.PlaceTable(req, tab, now)
				} else {
					got, gotErr = table.RouteTable(req, tab, now)
				}
			})
			if errText(wantErr) != errText(gotErr) || !same(want, got) {
				t.Fatalf("seed %d request %d %+v:\nRoute      %+v, %v\nRouteTable %+v, %v", seed, k, req, want, wantErr, got, gotErr)
			}
			if place && wantErr == nil && rng.IntN(3) == 0 {
				slice.Release(want.Order[0].ID)
				table.Release(got.Order[0].ID)
			}
		}
	}
}

// TestRouteTableBoundsSkipped: in a large cluster the decision lists a few
// skipped nodes and counts the rest.
func TestRouteTableBoundsSkipped(t *testing.T) {
	reg := registry.New(nil, registry.Config{})
	for i := range 1000 {
		caps := []string{"any"}
		if i == 500 {
			caps = append(caps, "gpu")
		}
		reg.Observe(&wire.Heartbeat{Node: fmt.Sprintf("n%04d", i), OS: "linux", Arch: "amd64", Capabilities: caps, CPUs: 4, Slots: 4,
			State: wire.StateReady, Interval: wire.Duration(time.Minute)})
	}
	var d *router.Decision
	var err error
	reg.View(func(tab *fleet.Table, now time.Time) {
		d, err = router.New(router.Config{}).RouteTable(router.Request{Command: "nvidia-smi"}, tab, now)
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.Order[0].ID != "n0500" || len(d.Skipped) != router.MaxSkipped || d.SkippedTotal != 999 {
		t.Fatalf("order %s, %d skipped listed, %d in all", d.Order[0].ID, len(d.Skipped), d.SkippedTotal)
	}
	reg.View(func(tab *fleet.Table, now time.Time) {
		_, err = router.New(router.Config{}).RouteTable(router.Request{Command: "uname", Requires: wire.Requirements{OS: "windows"}}, tab, now)
	})
	if !errors.Is(err, router.ErrNoMatch) || !regexp.MustCompile(`and 99[0-9] more`).MatchString(err.Error()) {
		t.Fatalf("err = %v", err)
	}
}
