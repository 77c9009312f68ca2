package router_test

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/router"
	"github.com/fabric-run/fabric/internal/wire"
)

func route(reg *registry.Registry, req router.Request) (d *router.Decision, err error) {
	reg.View(func(tab *registry.Table, now time.Time) {
		d, err = router.New(router.Config{}).Route(req, tab, now)
	})
	return d, err
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
	d, err := route(reg, router.Request{Task: &wire.Task{Command: "nvidia-smi"}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Order[0].Node != "n0500" || len(d.Skipped) != router.MaxSkipped || d.SkippedTotal != 999 {
		t.Fatalf("order %s, %d skipped listed, %d in all", d.Order[0].Node, len(d.Skipped), d.SkippedTotal)
	}
	_, err = route(reg, router.Request{Task: &wire.Task{Command: "uname", Requires: wire.Requirements{OS: "windows"}}})
	if !errors.Is(err, router.ErrNoMatch) || !regexp.MustCompile(`and 99[0-9] more`).MatchString(err.Error()) {
		t.Fatalf("err = %v", err)
	}
}

// TestRouteScansSSHMachines: SSH machines are rows of the one table the
// router scans, beside the workers: a reachable one is chosen like a worker
// and said to be reached over ssh, an unreachable one is skipped with its
// probe's reason, and a task that outlives its submitter (workers only)
// skips every one of them, saying why.
func TestRouteScansSSHMachines(t *testing.T) {
	reg := registry.New(nil, registry.Config{})
	reg.Observe(&wire.Heartbeat{Node: "w1", OS: "linux", Arch: "amd64", Capabilities: []string{"any"}, CPUs: 4, Slots: 4,
		State: wire.StateReady, Interval: wire.Duration(time.Minute)})
	reg.Probed(registry.Node{Heartbeat: wire.Heartbeat{Node: "nas", OS: "linux", Arch: "amd64", Capabilities: []string{"any", "raid"},
		CPUs: 2, Slots: 2}, Seen: time.Now()})
	reg.Probed(registry.Node{Heartbeat: wire.Heartbeat{Node: "gone", OS: "linux", Arch: "amd64", Capabilities: []string{"any", "raid"},
		Slots: 2}, Reason: "ssh gone (127.0.0.1:9): connect: connection refused"})
	raid := &wire.Task{Command: "true", Requires: wire.Requirements{Capabilities: []string{"raid"}}}

	d, err := route(reg, router.Request{Task: raid})
	if err != nil {
		t.Fatal(err)
	}
	if d.Order[0].Node != "nas" || d.Order[0].Via != wire.ViaSSH || len(d.Order) != 1 {
		t.Fatalf("order = %+v", d.Order)
	}
	for _, want := range []string{"nas (via ssh)", "gone is unreachable over ssh: ssh gone (127.0.0.1:9): connect: connection refused", "w1 lacks raid"} {
		if !strings.Contains(d.Reason, want) {
			t.Errorf("reason %q does not say %q", d.Reason, want)
		}
	}

	_, err = route(reg, router.Request{Task: raid, WorkersOnly: true})
	if !errors.Is(err, router.ErrNoMatch) || !strings.Contains(err.Error(), "nas is reached over ssh, and a task that outlives its submitter goes to workers only") {
		t.Fatalf("workers only: err = %v", err)
	}
	d, err = route(reg, router.Request{Task: &wire.Task{Command: "true"}, WorkersOnly: true})
	if err != nil || d.Order[0].Node != "w1" || len(d.Order) != 1 {
		t.Fatalf("workers only, any node: %+v, %v", d, err)
	}
}
