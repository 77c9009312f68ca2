package frontend

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

// Load test sizes. Under the race detector (see race_test.go) and with
// -short the run is cut down; a plain `go test` runs all of it.
const (
	loadTasks      = 10000
	loadTasksSmall = 1000
	loadSubmitters = 32
	loadNodes      = 3
	loadSlots      = 16
)

// TestLoadEveryTaskExactlyOnce pushes 10,000 tasks (argv true, the cheapest
// there is) from 32 concurrent submitters, each a front end of its own (its
// own connection, registry, placements and records, so they collide on
// nodes and fall through busy ones), through 3 nodes on a real embedded
// hub. Every task must come back to its submitter with exactly one result
// saying it ran, and must have run exactly once as the nodes tell it: each
// run's result also goes to a subject of the test's (the task's ResultTo,
// which a service with records in memory leaves as it is given), counted
// per task and node apart from the front ends.
func TestLoadEveryTaskExactlyOnce(t *testing.T) {
	n := loadTasks
	if raceEnabled || testing.Short() {
		n = loadTasksSmall
	}
	idle := worker.FixedLoad{CPUs: 4}
	var cfgs []worker.Config
	for _, name := range []string{"l1", "l2", "l3"}[:loadNodes] {
		cfgs = append(cfgs, worker.Config{Name: name, Hostname: "host-" + name, OS: "linux", Arch: "amd64", Load: idle,
			Slots: loadSlots, HeartbeatInterval: 2 * time.Second})
	}
	c := newCluster(t, Config{}, cfgs...)

	// The nodes' own account of what they ran.
	const ranSubject = "load.ran"
	type run struct{ id, node string }
	ran := make(chan run, n+1024)
	obs := c.connect(t)
	sub, err := obs.Subscribe(ranSubject, func(m *nats.Msg) {
		var r wire.Result
		if err := wire.Decode(m, &r); err != nil {
			t.Errorf("result on %s: %v", ranSubject, err)
			return
		}
		ran <- run{r.ID, r.Node}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		t.Fatal(err)
	}
	if err := obs.Flush(); err != nil {
		t.Fatal(err)
	}

	fes := []*Service{c.svc}
	for len(fes) < loadSubmitters {
		fes = append(fes, c.service(t, Config{}))
	}

	ids := make([]string, n)
	for i := range ids {
		ids[i] = wire.NewTaskID()
	}
	type outcome struct {
		node string
		res  *wire.Result
		err  error
	}
	outs := make([]outcome, n)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Declines (busy, late, no ack) are fall-throughs to another node:
	// counted to show the test exercised them.
	var declinesMu sync.Mutex
	declines := map[string]int{}
	countDeclines := func(declined []string) {
		declinesMu.Lock()
		defer declinesMu.Unlock()
		for _, d := range declined {
			_, why, _ := strings.Cut(d, ": ")
			kind, _, _ := strings.Cut(why, ":")
			declines[kind]++
		}
	}
	began := time.Now()
	var wg sync.WaitGroup
	for s := range loadSubmitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := s; i < n; i += loadSubmitters {
				req := Request{Task: wire.Task{ID: ids[i], Argv: []string{"true"}, Timeout: wire.Duration(time.Minute), ResultTo: ranSubject}}
				st, err := fes[s].Run(ctx, req, nil)
				if err != nil {
					outs[i] = outcome{err: err}
					continue
				}
				countDeclines(st.Declined)
				outs[i] = outcome{st.Record.Node, st.Result, nil}
			}
		}()
	}
	wg.Wait()
	took := time.Since(began)

	// Submitters' side: one result per id, each saying the task ran.
	perNode := map[string]int{}
	for i, o := range outs {
		switch {
		case o.err != nil:
			t.Fatalf("task %d (%s): %v", i, ids[i], o.err)
		case o.res == nil || o.res.ID != ids[i] || !o.res.Ran() || o.res.ExitCode != 0:
			t.Fatalf("task %d (%s) on %s: result %+v", i, ids[i], o.node, o.res)
		}
		perNode[o.node]++
	}

	// Nodes' side: every result they published has reached the observer
	// once each node's connection and then the observer's have made a
	// round trip to the hub.
	for name, nc := range c.conns {
		if err := nc.Flush(); err != nil {
			t.Fatalf("flush %s: %v", name, err)
		}
	}
	if err := obs.Flush(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if msgs, _, _ := sub.Pending(); msgs == 0 && len(ran) >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the nodes reported %d runs of %d tasks", len(ran), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = sub.Unsubscribe()
	ranOn := map[string]string{}
	for len(ran) > 0 {
		r := <-ran
		if prev, dup := ranOn[r.id]; dup {
			t.Fatalf("task %s ran twice: on %s and on %s", r.id, prev, r.node)
		}
		ranOn[r.id] = r.node
	}
	for i, id := range ids {
		if ranOn[id] != outs[i].node {
			t.Fatalf("task %s: result from %q, the nodes say it ran on %q", id, outs[i].node, ranOn[id])
		}
	}
	if len(ranOn) != n {
		t.Fatalf("the nodes ran %d distinct tasks of %d", len(ranOn), n)
	}
	for _, w := range c.workers {
		if hb := w.Heartbeat(); hb.Running != 0 {
			t.Errorf("node %s still runs %d tasks", hb.Node, hb.Running)
		}
	}
	t.Logf("%d tasks from %d submitters over %d nodes in %s (%.0f tasks/s): per node %v, declined and sent on %v; each ran exactly once",
		n, loadSubmitters, loadNodes, took.Round(time.Millisecond), float64(n)/took.Seconds(), perNode, declines)
}
