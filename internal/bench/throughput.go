package bench

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/runner"
	"github.com/fabric-run/fabric/internal/wire"
)

// throughputTarget is the issue's: the fabric does at least this fraction of
// the local loop's work per second.
const throughputTarget = 0.85

// throughputNodes is how many nodes the batch spreads over.
const throughputNodes = 4

// runThroughput is scenario 4: a batch (parallel_execute: Service.Batch)
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
		if _, err := c.spawnNode(ctx, fmt.Sprintf("tp%d", i), "--no-detect", "--slots", strconv.Itoa(slots), "--heartbeat", "1s"); err != nil {
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

	if _, _, err := batch(ctx, fe, warm, conc); err != nil {
		return nil, err
	}
	if _, err := local(ctx, shell, warm, conc); err != nil {
		return nil, err
	}
	// Each side in turn, first one then the other, best of the rounds: a
	// burst or a trend of other work on the machine then spoils one run of
	// each rather than one side.
	var fab, loc time.Duration
	busy := 0.0 // of the best fabric run: the slots' time spent running commands
	for round := range e.sizes.rounds {
		sides := []func() error{
			func() error { l, err := local(ctx, shell, n, conc); loc = best(loc, l); return err },
			func() error {
				f, ran, err := batch(ctx, fe, n, conc)
				if fab == 0 || f < fab {
					busy = ran.Seconds() / (f.Seconds() * float64(conc))
				}
				fab = best(fab, f)
				return err
			},
		}
		if round%2 == 1 {
			sides[0], sides[1] = sides[1], sides[0]
		}
		for _, side := range sides {
			if err := side(); err != nil {
				return nil, err
			}
		}
	}
	fr, lr := float64(n)/fab.Seconds(), float64(n)/loc.Seconds()
	r := ratioOf(fr, lr)
	return []Result{{
		Measure: fmt.Sprintf("batch of %d `true` over %d nodes (%d slots)", n, throughputNodes, conc),
		Value:   fr, Unit: "tasks/s",
		Baseline: &Baseline{Name: fmt.Sprintf("local loop, %d at once", conc), Value: lr, Unit: "tasks/s"},
		Ratio:    r, Target: fmt.Sprintf("≥ %.2f of local", throughputTarget), Status: verdict(r >= throughputTarget),
		Notes: fmt.Sprintf("best of %d runs each, in turns (alternating which goes first); nodes are separate processes; commands run under %s on both sides; the slots were running commands %.0f%% of the time (the rest: results and next tasks crossing the bus)",
			e.sizes.rounds, shell, 100*busy),
	}}, nil
}

// batch runs n `true` as one batch (Service.Batch, as parallel_execute
// does), conc at once, and returns the time and the sum of the commands'
// own durations on their nodes.
func batch(ctx context.Context, fe *frontend.Service, n, conc int) (took, ran time.Duration, err error) {
	reqs := make([]frontend.Request, n)
	for i := range reqs {
		reqs[i] = frontend.Request{Task: wire.Task{Command: "true"}}
	}
	start := time.Now()
	sts, err := fe.Batch(ctx, reqs, frontend.BatchOptions{MaxParallel: conc, Budget: batchBudget})
	took = time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("batch: %w", err)
	}
	for i, st := range sts {
		r := st.Result
		if !r.Succeeded() {
			return 0, 0, fmt.Errorf("batch task %d: %s %s %+v", i, st.State, st.Record.Message, r)
		}
		ran += r.Duration.D()
	}
	return took, ran, nil
}

// batchBudget bounds a batch's wait: far more than it takes.
const batchBudget = 10 * time.Minute

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
