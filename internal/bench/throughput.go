package bench

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/runner"
)

// throughputTarget is the issue's: the fabric does at least this fraction of
// the local loop's work per second.
const throughputTarget = 0.85

// throughputNodes is how many nodes the batch spreads over.
const throughputNodes = 4

// runThroughput is scenario 4: a batch (parallel_execute, frontend.RunBatch)
// of `true` over four `fabric node` processes, against a plain Go loop
// running the same command in the node's shell locally with the same total
// concurrency (the nodes' slots together).
func runThroughput(ctx context.Context, e *env) ([]Result, error) {
	c, err := e.newCluster()
	if err != nil {
		return nil, err
	}
	defer c.close()
	slots := max(runtime.NumCPU(), 1)
	for i := range throughputNodes {
		if _, err := c.spawnNode(ctx, fmt.Sprintf("tp%d", i), "--no-detect", "--slots", itoa(slots), "--heartbeat", "1s"); err != nil {
			return nil, err
		}
	}
	fe, err := c.startFrontend(ctx, throughputNodes)
	if err != nil {
		return nil, err
	}
	conc := throughputNodes * slots
	shell := runner.DefaultShell()
	n := e.sizes.tasks
	warm := 2 * conc

	if _, err := batch(ctx, fe, warm, conc); err != nil {
		return nil, err
	}
	if _, err := local(ctx, shell, warm, conc); err != nil {
		return nil, err
	}
	// Each side in turn, best of the rounds: a burst of other work on the
	// machine then spoils one run of each rather than one side.
	var fab, loc time.Duration
	for range e.sizes.rounds {
		l, err := local(ctx, shell, n, conc)
		if err != nil {
			return nil, err
		}
		f, err := batch(ctx, fe, n, conc)
		if err != nil {
			return nil, err
		}
		if loc == 0 || l < loc {
			loc = l
		}
		if fab == 0 || f < fab {
			fab = f
		}
	}
	fr, lr := float64(n)/fab.Seconds(), float64(n)/loc.Seconds()
	r := ratioOf(fr, lr)
	return []Result{{
		Measure: fmt.Sprintf("batch of %d `true` over %d nodes (%d slots)", n, throughputNodes, conc),
		Value:   fr, Unit: "tasks/s",
		Baseline: &Baseline{Name: fmt.Sprintf("local loop, %d at once", conc), Value: lr, Unit: "tasks/s"},
		Ratio:    r, Target: fmt.Sprintf("≥ %.2f of local", throughputTarget), Status: verdict(r >= throughputTarget),
		Notes: fmt.Sprintf("best of %d runs each, alternating; nodes are separate processes; commands run under %s on both sides", e.sizes.rounds, shell),
	}}, nil
}

// batch runs n `true` with RunBatch, conc at once, and returns the time.
func batch(ctx context.Context, fe *frontend.Frontend, n, conc int) (time.Duration, error) {
	reqs := make([]frontend.Request, n)
	for i := range reqs {
		reqs[i] = frontend.Request{Command: "true"}
	}
	start := time.Now()
	items := fe.RunBatch(ctx, reqs, conc, false, nil)
	took := time.Since(start)
	for i, it := range items {
		if it.Err != nil {
			return 0, fmt.Errorf("batch task %d: %w", i, it.Err)
		}
		if r := it.Outcome.Result; r == nil || !r.Ran() || r.ExitCode != 0 {
			return 0, fmt.Errorf("batch task %d: %+v", i, r)
		}
	}
	return took, nil
}

// local runs `shell -c true` n times, conc at once, and returns the time.
func local(ctx context.Context, shell string, n, conc int) (time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, conc)
	start := time.Now()
	for w := range conc {
		wg.Go(func() {
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				if err := exec.Command(shell, "-c", "true").Run(); err != nil {
					errs[w] = fmt.Errorf("local %s -c true: %w", shell, err)
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return 0, err
	}
	return took, nil
}
