//go:build unix

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/wire"
)

// TestNodeKilledMidTask: a node dies (SIGKILL: no goodbye, no result) while
// a task runs on it. The waiting `fabric run` ends with node_lost (exit 125)
// once the node has missed three heartbeats, long before the task's own
// timeout, and the task's record says lost.
func TestNodeKilledMidTask(t *testing.T) {
	_, url := startHub(t)
	node := startNode(t, url, "--name", "victim", "--heartbeat", faultHeartbeat.String())
	srv := []string{"FABRIC_SERVER=" + url}

	const taskTimeout = 10 * time.Minute
	run := start(t, srv, bin.fabric, "run", "--timeout", taskTimeout.String(), "--", "echo pid=$$; sleep 600")
	id := run.waitOutput(t, `fabric: task (\w+) accepted by victim`)
	killGroupLater(t, run.waitOutput(t, `pid=(\d+)`))

	killed := time.Now()
	node.cmd.Process.Kill()
	code := run.wait(t)
	lostAfter := time.Since(killed)
	t.Logf("fabric run reported the node lost %s after SIGKILL (heartbeat %s, stale after 3 missed)", lostAfter.Round(time.Millisecond), faultHeartbeat)

	errOut := run.output()
	if code != 125 || !strings.Contains(errOut, "node_lost") || !strings.Contains(errOut, "stopped heartbeating") {
		t.Fatalf("fabric run: exit %d, want 125 with node_lost ... stopped heartbeating; output:\n%s", code, errOut)
	}
	if lostAfter > taskTimeout/10 {
		t.Fatalf("node lost only after %s: that is the task timeout's doing, not the heartbeats'", lostAfter)
	}

	st, _ := status(t, srv, id, false)
	if st.State != "lost" || st.Result == nil || st.Result.Error != string(wire.ErrNodeLost) || st.Record.Node != "victim" {
		t.Fatalf("status of %s = %+v, want lost on victim with a node_lost result", id, st)
	}
	// Waiting on it from another front end returns at once with exit 125.
	if st, code := status(t, srv, id, true); code != 125 || st.State != "lost" {
		t.Fatalf("status --wait: exit %d, state %s", code, st.State)
	}
}

// TestSubmittedTaskNodeKilled: tasks submitted in the background (no front
// end follows them) lose their node to SIGKILL. A front end waiting for one
// since before the kill, and one that starts waiting for the other after it
// (it never hears of the node), both end with lost (exit 125) instead of
// waiting forever, and the records say lost.
func TestSubmittedTaskNodeKilled(t *testing.T) {
	_, url := startHub(t)
	node := startNode(t, url, "--name", "victim", "--heartbeat", faultHeartbeat.String())
	srv := []string{"FABRIC_SERVER=" + url}
	var ids []string
	for i := range 2 {
		pidFile := filepath.Join(t.TempDir(), "pid")
		out, errOut, code := fabric(t, srv, "submit", "--", "echo $$ > "+pidFile+"; sleep 600")
		if code != 0 || strings.TrimSpace(out) == "" {
			t.Fatalf("submit %d: exit %d, %q %q", i, code, out, errOut)
		}
		ids = append(ids, strings.TrimSpace(out))
		fabrictest.Eventually(t, 30*time.Second, "the task writes its pid", func() bool { return len(fileLines(t, pidFile)) == 1 })
		killGroupLater(t, fileLines(t, pidFile)[0])
	}

	before := start(t, append(srv, "FABRIC_LOG_LEVEL=info"), bin.fabric, "status", "--wait", "--json", ids[0])
	before.waitOutput(t, `node joined.* node=victim`)
	killed := time.Now()
	node.cmd.Process.Kill()
	after := start(t, srv, bin.fabric, "status", "--wait", "--json", ids[1])
	for i, p := range []*proc{before, after} {
		if code := p.wait(t); code != 125 || !strings.Contains(p.stdoutText(), `"state": "lost"`) {
			t.Fatalf("status --wait %s: exit %d, want 125 and lost:\n%s", ids[i], code, p.output())
		}
		t.Logf("status --wait %s (waiting %s the kill) ended lost %s after SIGKILL", ids[i], []string{"before", "after"}[i], time.Since(killed).Round(time.Millisecond))
		if st, _ := status(t, srv, ids[i], false); st.State != "lost" || st.Result == nil || st.Result.Error != string(wire.ErrNodeLost) {
			t.Fatalf("record of %s = %+v", ids[i], st)
		}
	}
}

// TestFrontEndKilledTaskCompletes: `fabric run` is killed (SIGKILL) while
// its task runs. The node runs the task to its end and records the result
// itself, so a new front end, in another process, gets it.
func TestFrontEndKilledTaskCompletes(t *testing.T) {
	_, url := startHub(t)
	startNode(t, url, "--name", "n", "--heartbeat", faultHeartbeat.String())
	srv := []string{"FABRIC_SERVER=" + url}
	gate := filepath.Join(t.TempDir(), "go")

	// The task waits for the test's word, so it surely outlives its front end.
	run := start(t, srv, bin.fabric, "run", "--", "echo started; until [ -e "+gate+" ]; do sleep 0.02; done; echo finished")
	id := run.waitOutput(t, `fabric: task (\w+) accepted by n`)
	run.waitOutput(t, "started")
	run.cmd.Process.Kill()
	run.wait(t)

	// Meanwhile another front end sees it running on n.
	if st, _ := status(t, srv, id, false); st.State != "running" || st.Record.Node != "n" {
		t.Fatalf("status while running = %+v", st)
	}
	waiter := start(t, srv, bin.fabric, "status", "--wait", "--json", id)
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := waiter.wait(t); code != 0 {
		t.Fatalf("status --wait: exit %d: %s", code, waiter.output())
	}
	st, _ := status(t, srv, id, false)
	if st.State != "done" || st.Result == nil || st.Result.Stdout != "started\nfinished\n" || st.Result.ExitCode != 0 {
		t.Fatalf("record of %s = %+v, want done with both lines", id, st)
	}
}

// TestHubRestart: the hub (`fabric serve`) is killed with SIGKILL and started
// again on the same port and state directory. The nodes reconnect and are
// routable again within two heartbeat intervals of the hub being back, and
// tasks that ended before keep their records (JetStream on disk).
func TestHubRestart(t *testing.T) {
	hub, url := startHub(t)
	nodes := []string{"a", "b"}
	for _, n := range nodes {
		startNode(t, url, "--name", n, "--heartbeat", faultHeartbeat.String())
	}
	srv := []string{"FABRIC_SERVER=" + url}
	ids := map[string]string{} // node -> task that ran there before the restart
	for _, n := range nodes {
		out, errOut, code := fabric(t, srv, "run", "--node", n, "--", "echo before-restart-on-"+n)
		if code != 0 || out != "before-restart-on-"+n+"\n" {
			t.Fatalf("run on %s: exit %d, %q %q", n, code, out, errOut)
		}
		ids[n] = match(t, errOut, `fabric: task (\w+) accepted by `+n)
	}

	hub.cmd.Process.Kill()
	hub.wait(t)
	hub2 := start(t, nil, bin.fabric, "serve", "--listen", "127.0.0.1:"+hubPort(t, url))
	hub2.waitOutput(t, `hub listening on nats://127\.0\.0\.1:`+hubPort(t, url))
	back := time.Now()

	// A fresh client on the new hub: every node's heartbeat must come
	// within two intervals (plus a little for this client to connect and
	// for the machine's load).
	nc := fabrictest.Connect(t, url)
	hbs := make(chan *nats.Msg, 64)
	sub, err := nc.ChanSubscribe("fabric.heartbeat.>", hbs)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	within := 2*faultHeartbeat + time.Second
	seen := map[string]time.Duration{}
	timeout := time.After(within)
	for len(seen) < len(nodes) {
		select {
		case m := <-hbs:
			var hb wire.Heartbeat
			if err := wire.Decode(m, &hb); err != nil {
				t.Fatal(err)
			}
			if _, ok := seen[hb.Node]; !ok {
				seen[hb.Node] = time.Since(back)
			}
		case <-timeout:
			t.Fatalf("heartbeats after the hub came back: %v; want all of %v within %s", seen, nodes, within)
		}
	}
	t.Logf("nodes heartbeating again after the hub came back: %v (heartbeat %s)", seen, faultHeartbeat)

	for _, n := range nodes {
		out, errOut, code := fabric(t, srv, "run", "--node", n, "--", "echo after-restart")
		if code != 0 || out != "after-restart\n" {
			t.Fatalf("run on %s after the restart: exit %d, %q %q", n, code, out, errOut)
		}
		st, _ := status(t, srv, ids[n], false)
		if st.State != "done" || st.Result == nil || st.Result.Stdout != "before-restart-on-"+n+"\n" {
			t.Fatalf("record of %s (before the restart) = %+v", ids[n], st)
		}
	}
}

// TestPartitionedNode: a node that cannot talk (SIGSTOP freezes it and its
// NATS connection) goes stale for a front end that was watching, is not
// offered to new front ends, and tasks go to the other node; on SIGCONT it
// comes back ready by itself.
func TestPartitionedNode(t *testing.T) {
	_, url := startHub(t)
	frozen := startNode(t, url, "--name", "frozen", "--heartbeat", faultHeartbeat.String())
	startNode(t, url, "--name", "other", "--heartbeat", faultHeartbeat.String())
	srv := []string{"FABRIC_SERVER=" + url}

	// A front end that watches all along: a front end's registry, in this
	// process, on the real hub.
	nc := fabrictest.Connect(t, url)
	reg := registry.New(nc, registry.Config{})
	if err := reg.Start(); err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := reg.Sync(ctx, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitNodeHealth(t, ctx, reg, "frozen", registry.HealthReady)
	waitNodeHealth(t, ctx, reg, "other", registry.HealthReady)

	frozen.signal(syscall.SIGSTOP)
	stopped := time.Now()
	t.Cleanup(func() { frozen.signal(syscall.SIGCONT) })
	waitNodeHealth(t, ctx, reg, "frozen", registry.HealthStale)
	t.Logf("frozen node stale for a watching front end %s after SIGSTOP (heartbeat %s)", time.Since(stopped).Round(time.Millisecond), faultHeartbeat)
	if n, _ := reg.Get("other"); n.Health != registry.HealthReady {
		t.Fatalf("other node is %s while frozen is stopped", n.Health)
	}

	// New front ends do not offer it work: it is not listed ready, and
	// every task goes to the other node.
	s := nodeStates(t, srv)
	if s["frozen"] == "ready" || s["other"] != "ready" {
		t.Fatalf("fabric nodes while frozen is stopped = %v", s)
	}
	t.Logf("fabric nodes while frozen is stopped: %v (a new front end never hears from it)", s)
	for range 3 {
		out, errOut, code := fabric(t, srv, "run", "--", "echo hi")
		if code != 0 || out != "hi\n" || !strings.Contains(errOut, "accepted by other") {
			t.Fatalf("run while frozen is stopped: exit %d, %q %q", code, out, errOut)
		}
	}

	frozen.signal(syscall.SIGCONT)
	resumed := time.Now()
	waitNodeHealth(t, ctx, reg, "frozen", registry.HealthReady)
	t.Logf("frozen node ready again %s after SIGCONT", time.Since(resumed).Round(time.Millisecond))
	fabrictest.Eventually(t, 30*time.Second, "fabric nodes lists frozen ready", func() bool { return nodeStates(t, srv)["frozen"] == "ready" })
	out, errOut, code := fabric(t, srv, "run", "--node", "frozen", "--", "echo back")
	if code != 0 || out != "back\n" {
		t.Fatalf("run on frozen after SIGCONT: exit %d, %q %q", code, out, errOut)
	}
}

// waitNodeHealth waits until reg sees node in health h.
func waitNodeHealth(t *testing.T, ctx context.Context, reg *registry.Registry, node string, h registry.Health) {
	t.Helper()
	err := reg.WaitFor(ctx, func(nodes []registry.Node) bool {
		for _, n := range nodes {
			if n.Node == node {
				return n.Health == h
			}
		}
		return false
	})
	if err != nil {
		n, _ := reg.Get(node)
		t.Fatalf("node %s never %s (last %s, seen %s ago): %v", node, h, n.Health, time.Since(n.Seen), err)
	}
}
