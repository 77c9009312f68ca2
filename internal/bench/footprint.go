package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fabric-run/fabric/internal/bench/procstat"
	"github.com/fabric-run/fabric/internal/worker"
)

// Footprint targets of the issue.
const (
	nodeRSSTarget     = 30 << 20 // bytes
	nodeCPUTarget     = 1.0      // % of one core
	frontRSSTarget    = 60 << 20 // bytes
	footprintSettling = "after start-up settles"
)

// runFootprint is scenario 6: an idle `fabric node` at the default
// heartbeat, and an idle front end with the embedded hub and its local
// node (what `fabric run` starts), each a process of its own, measured
// side by side.
func runFootprint(ctx context.Context, e *env) ([]Result, error) {
	if _, err := procstat.Self(); errors.Is(err, procstat.ErrUnsupported) {
		return nil, &skipError{why: "process memory and CPU readings not supported on this OS"}
	}
	c, err := e.newCluster()
	if err != nil {
		return nil, err
	}
	defer c.close()
	node, err := c.spawnNode(ctx, "idle") // default heartbeat, capabilities detected
	if err != nil {
		return nil, err
	}
	front, err := e.start(ctx, "bench", "probe", "idle-frontend")
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, front)
	wait, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if line, err := front.line(wait); err != nil || line != "ready" {
		return nil, fmt.Errorf("idle front end: %q, %w", line, err)
	}

	var nodeUse, frontUse idleUse
	var wg sync.WaitGroup
	wg.Go(func() { nodeUse = measureIdle(ctx, node.pid(), e.sizes.settle, e.sizes.window) })
	wg.Go(func() { frontUse = measureIdle(ctx, front.pid(), e.sizes.settle, e.sizes.window) })
	wg.Wait()
	if err := errors.Join(nodeUse.err, frontUse.err); err != nil {
		return nil, err
	}
	notes := fmt.Sprintf("measured over %s %s (%s)", e.sizes.window, footprintSettling, e.sizes.settle)
	return []Result{
		{Measure: fmt.Sprintf("idle fabric node RSS (heartbeat %s)", worker.DefaultHeartbeatInterval), Value: procstat.MiB(nodeUse.rss), Unit: "MiB",
			Target: fmt.Sprintf("≤ %d MiB", nodeRSSTarget>>20), Status: verdict(nodeUse.rss <= nodeRSSTarget),
			Notes: fmt.Sprintf("%s; peak %.1f MiB", notes, procstat.MiB(nodeUse.peak))},
		{Measure: "idle fabric node CPU", Value: nodeUse.cpu, Unit: "% core",
			Target: fmt.Sprintf("≤ %.0f%% of one core", nodeCPUTarget), Status: verdict(nodeUse.cpu <= nodeCPUTarget), Notes: notes},
		{Measure: "idle front end + embedded hub + local node RSS", Value: procstat.MiB(frontUse.rss), Unit: "MiB",
			Target: fmt.Sprintf("≤ %d MiB", frontRSSTarget>>20), Status: verdict(frontUse.rss <= frontRSSTarget),
			Notes: fmt.Sprintf("%s; peak %.1f MiB; CPU %.2f%% of a core", notes, procstat.MiB(frontUse.peak), frontUse.cpu)},
	}, nil
}

// idleUse is what an idle process used.
type idleUse struct {
	rss, peak int64
	cpu       float64 // % of one core
	err       error
}

// measureIdle lets process pid settle, then measures its CPU over window
// and its memory at the end.
func measureIdle(ctx context.Context, pid int, settle, window time.Duration) idleUse {
	if err := sleep(ctx, settle); err != nil {
		return idleUse{err: err}
	}
	u0, err := procstat.Of(pid)
	if err != nil {
		return idleUse{err: err}
	}
	start := time.Now()
	if err := sleep(ctx, window); err != nil {
		return idleUse{err: err}
	}
	u1, err := procstat.Of(pid)
	if err != nil {
		return idleUse{err: err}
	}
	return idleUse{rss: u1.RSS, peak: u1.PeakRSS, cpu: 100 * (u1.CPU - u0.CPU).Seconds() / time.Since(start).Seconds()}
}
