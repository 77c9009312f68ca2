//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/registry"
)

// TestMultiHostNetns runs the fabric as on four machines: a hub and three
// nodes, each in a network namespace of its own on a private bridge, plus a
// front-end host, all real binaries talking TCP across the bridge. It
// checks routing across hosts; then pulls one node's cable while a task
// runs there: the node goes stale, the task ends node_lost (exit 125) within
// about a second of heartbeats (300 ms) going missing, and new tasks avoid
// the node; then plugs the cable back in: the node reconnects by itself and
// takes work again.
func TestMultiHostNetns(t *testing.T) {
	began := time.Now()
	lab := newNetLab(t)
	const hubAddr = "10.77.0.1"
	hosts := map[string]string{"hub": hubAddr, "n1": "10.77.0.11", "n2": "10.77.0.12", "n3": "10.77.0.13", "fe": "10.77.0.100"}
	for _, h := range []string{"hub", "n1", "n2", "n3", "fe"} {
		lab.addHost(h, hosts[h])
	}
	server := "nats://" + hubAddr + ":4222"

	// The hub listens on the bridge: beyond loopback, so --insecure (the
	// namespaces are the test's alone).
	// Debug logging shows each client connection open and close.
	hubProc := lab.start("hub", []string{"FABRIC_STATE_DIR=" + t.TempDir()}, bin.fabric, "serve", "--listen", hubAddr+":4222", "--insecure", "--log-level", "debug")
	hubProc.waitOutput(t, `hub listening on nats://10\.77\.0\.1:4222`)
	nodes := map[string]*proc{}
	for _, n := range []string{"n1", "n2", "n3"} {
		p := lab.start(n, nil, bin.node, "--server", server, "--name", n, "--no-detect", "--heartbeat", "300ms", "--drain-grace", "500ms")
		// Stop nodes with SIGTERM before the lab goes: a draining node
		// kills its tasks' process groups, which SIGKILL would orphan.
		t.Cleanup(func() {
			if p.running() {
				p.signal(syscall.SIGTERM)
				select {
				case <-p.done:
				case <-time.After(10 * time.Second):
				}
			}
		})
		p.waitOutput(t, `node running`)
		nodes[n] = p
	}

	// A long-lived observer on the front-end host: the node table as a
	// front end keeps it, from heartbeats.
	reg := observe(t, lab.hosts["fe"], server)
	waitHealth(t, reg, time.Time{}, map[string]registry.Health{"n1": registry.HealthReady, "n2": registry.HealthReady, "n3": registry.HealthReady})

	fabricIn := func(args ...string) (string, string, int) {
		t.Helper()
		return run(t, []string{"FABRIC_SERVER=" + server}, lab.in("fe", append([]string{bin.fabric}, args...)...)...)
	}
	// Each task prints the address of the host it ran on.
	whereAmI := lab.ip + " -4 -o addr show dev eth0"
	for _, n := range []string{"n1", "n2", "n3"} {
		out, errOut, code := fabricIn("run", "--node", n, "--", whereAmI)
		if want := "inet " + hosts[n] + "/24"; code != 0 || !strings.Contains(out, want) {
			t.Fatalf("run --node %s: code %d, stdout %q (want %q), stderr %q", n, code, out, want, errOut)
		}
	}
	if states := nodeStates(t, []string{"FABRIC_SERVER=" + server}, lab.in("fe")...); len(states) != 3 {
		t.Fatalf("fabric nodes --json = %v, want n1, n2, n3", states)
	}

	// n3's connection, as the hub knows it.
	n3cid := hubProc.waitOutput(t, `10\.77\.0\.13:\d+ - cid:(\d+) - Client connection created`)

	// A task runs on n3; n3's cable is pulled.
	long := lab.start("fe", []string{"FABRIC_SERVER=" + server}, bin.fabric, "run", "--node", "n3", "--", "echo started; sleep 30")
	long.waitOutput(t, "started")
	cut := time.Now()
	lab.cut("n3")

	waitHealth(t, reg, time.Time{}, map[string]registry.Health{"n1": registry.HealthReady, "n2": registry.HealthReady, "n3": registry.HealthStale})
	t.Logf("n3 stale %s after the cut", time.Since(cut).Round(time.Millisecond))
	if code := long.wait(t); code != 125 {
		t.Fatalf("task on the cut node: exit %d, want 125: %s", code, long.output())
	}
	lost := time.Since(cut)
	if !regexp.MustCompile(`fabric: n3: node_lost: node n3 stopped heartbeating`).MatchString(long.output()) {
		t.Fatalf("task on the cut node did not end node_lost saying why: %s", long.output())
	}
	t.Logf("task on n3 ended node_lost %s after the cut: %s", lost.Round(time.Millisecond), lastLine(long.output()))
	if lost > 5*time.Second {
		t.Errorf("node_lost took %s with 300 ms heartbeats, want about a second", lost)
	}

	// A new front end does not hear from n3 at all (it cannot answer the
	// ping); n1 and n2 are ready. (The ping also leaves data the hub must
	// retransmit to n3's old connection: when the cable is back, n3's
	// kernel answers it with a reset and the hub drops that connection.)
	states := nodeStates(t, []string{"FABRIC_SERVER=" + server}, lab.in("fe")...)
	if states["n3"] == "ready" || states["n1"] != "ready" || states["n2"] != "ready" {
		t.Fatalf("fabric nodes --json during the cut = %v, want n1 and n2 ready, n3 not", states)
	}
	t.Logf("fabric nodes --json during the cut: %v", states)
	// New tasks avoid n3: unaddressed ones land on n1 or n2, addressed
	// ones are refused at once.
	for i := range 4 {
		out, errOut, code := fabricIn("run", "--json", "--", fmt.Sprintf("uname -m >/dev/null; echo %d", i))
		var r struct{ Node string }
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || (r.Node != "n1" && r.Node != "n2") {
			t.Fatalf("task during the cut: code %d, node %q (%v), stderr %q", code, r.Node, err, errOut)
		}
	}
	if _, errOut, code := fabricIn("run", "--node", "n3", "--", "true"); code != 125 || !strings.Contains(errOut, `unknown node "n3"`) {
		t.Fatalf("run --node n3 during the cut: code %d, stderr %q", code, errOut)
	}

	// n3 notices its dead connection (unanswered pings) before the cable
	// comes back, so what follows is a real reconnect.
	nodes["n3"].waitOutput(t, `disconnected from NATS`)
	restored := time.Now()
	lab.restore("n3")
	nodes["n3"].waitOutput(t, `reconnected to NATS`)
	waitHealth(t, reg, restored, map[string]registry.Health{"n3": registry.HealthReady})
	t.Logf("n3 ready again %s after the cable came back", time.Since(restored).Round(time.Millisecond))
	// Until the hub drops n3's old connection, it may hand n3's tasks
	// (a queue group) to that dead connection: wait for it to go.
	hubProc.waitOutput(t, `cid:`+n3cid+` - \S*fabric-node\S* - Client connection closed`)
	t.Logf("hub dropped n3's old connection %s after the cable came back", time.Since(restored).Round(time.Millisecond))
	if states := nodeStates(t, []string{"FABRIC_SERVER=" + server}, lab.in("fe")...); states["n3"] != "ready" {
		t.Fatalf("fabric nodes --json after the restore = %v, want n3 ready", states)
	}
	out, errOut, code := fabricIn("run", "--node", "n3", "--", whereAmI)
	if code != 0 || !strings.Contains(out, "inet "+hosts["n3"]+"/24") {
		t.Fatalf("run --node n3 after the restore: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	t.Logf("whole test: %s", time.Since(began).Round(time.Millisecond))
}

// observe connects a registry from inside namespace ns to server.
func observe(t *testing.T, ns, server string) *registry.Registry {
	t.Helper()
	nc := fabrictest.Connect(t, server, nats.SetCustomDialer(netnsDialer{ns: ns}), nats.Name("observer"),
		nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	reg := registry.New(nc, registry.Config{})
	if err := reg.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := reg.Sync(ctx, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	return reg
}

// waitHealth waits until each named node has the given health, after a
// heartbeat that arrived after since.
func waitHealth(t *testing.T, reg *registry.Registry, since time.Time, want map[string]registry.Health) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := reg.WaitFor(ctx, func(ns []registry.Node) bool {
		got := map[string]registry.Node{}
		for _, n := range ns {
			got[n.Node] = n
		}
		for name, h := range want {
			n, ok := got[name]
			if !ok || n.Health != h || (h == registry.HealthReady && !n.Seen.After(since)) {
				return false
			}
		}
		return true
	})
	if err != nil {
		var have []string
		for _, n := range reg.Snapshot() {
			have = append(have, fmt.Sprintf("%s=%s (seen %s ago)", n.Node, n.Health, time.Since(n.Seen).Round(time.Millisecond)))
		}
		t.Fatalf("waiting for %v: have %v", want, have)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
