//go:build unix

package e2e

import (
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/wire"
)

// TestStalledNodeTasksGoElsewhere: the node a front end prefers is frozen
// (SIGSTOP) just before tasks are offered to it, so it cannot ack. The front
// end gives up on it after the ack timeout, cancels the tasks there and runs
// them on the other node. When the frozen node resumes, the tasks are
// waiting in its connection, late (each before its cancel): it must refuse
// them, not start them. Every run appends its task id to a marker file in
// its node's home directory.
func TestStalledNodeTasksGoElsewhere(t *testing.T) {
	_, url := startHub(t)
	homes := map[string]string{}
	procs := map[string]*proc{}
	for _, n := range []string{"stalled", "spare"} {
		homes[n] = tempDir(t, n)
		// A heartbeat long enough that the front end still counts the
		// frozen node ready when it offers the tasks.
		p := start(t, []string{"HOME=" + homes[n]}, bin.node, "--server", url, "--no-detect", "--heartbeat", "2s", "--name", n, "--slots", "16")
		p.waitOutput(t, "node running")
		procs[n] = p
	}

	// The front end, in this process: it prefers "stalled" (its local node)
	// for light commands.
	nc := fabrictest.Connect(t, url)
	const ackTimeout = time.Second
	fe, err := frontend.New(nc, frontend.Config{Local: "stalled", AckTimeout: ackTimeout})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := fe.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer fe.Close()
	for _, name := range []string{"stalled", "spare"} {
		ready := func(ns []registry.Node) bool {
			return slices.ContainsFunc(ns, func(n registry.Node) bool { return n.Node == name && n.Health == registry.HealthReady })
		}
		if err := fe.WaitNodes(ctx, ready); err != nil {
			t.Fatalf("node %s never ready: %v", name, err)
		}
	}

	procs["stalled"].signal(syscall.SIGSTOP)
	t.Cleanup(func() { procs["stalled"].signal(syscall.SIGCONT) })
	const n = 8
	ids := make([]string, n)
	outs := make([]*frontend.Status, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		ids[i] = wire.NewTaskID()
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = fe.Run(ctx, frontend.Request{Task: wire.Task{ID: ids[i], Command: `echo ` + ids[i] + ` >> "$HOME/runs"; echo ran`}}, nil)
		}()
	}
	wg.Wait()
	for i, out := range outs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if out.Record.Node != "spare" || out.Result == nil || out.Result.Stdout != "ran\n" {
			t.Fatalf("task %d: node %q, result %+v, declined %v", i, out.Record.Node, out.Result, out.Declined)
		}
		if len(out.Declined) != 1 || !strings.Contains(out.Declined[0], "stalled: no ack within") {
			t.Fatalf("task %d: declined = %q, want stalled: no ack", i, out.Declined)
		}
	}

	// Resume the frozen node: it reads the tasks, late, then the cancels.
	procs["stalled"].signal(syscall.SIGCONT)
	declined := regexp.MustCompile(`msg="task declined" .*id=(\w+) status=\w+`)
	started := regexp.MustCompile(`msg="task cancelled" .*id=(\w+)`)
	fabrictest.Eventually(t, 30*time.Second, "the resumed node deals with every late task", func() bool {
		o := procs["stalled"].output()
		return len(declined.FindAllString(o, -1))+len(started.FindAllString(o, -1)) >= n ||
			len(fileLines(t, filepath.Join(homes["stalled"], "runs"))) > 0
	})
	o := procs["stalled"].output()
	if runs := fileLines(t, filepath.Join(homes["stalled"], "runs")); len(runs) > 0 || started.MatchString(o) {
		t.Fatalf("late tasks started on the resumed node (runs %q); its log:\n%s", runs, o)
	}
	t.Logf("resumed node: %s", declined.FindString(o))
	spare := fileLines(t, filepath.Join(homes["spare"], "runs"))
	for _, id := range ids {
		if got := countOf(spare, id); got != 1 {
			t.Fatalf("spare ran task %s %d times", id, got)
		}
	}
}
