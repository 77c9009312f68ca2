package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/bench/procstat"
	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/wire"
)

// ProbeConfig configures the front-end probe of the scale scenario, a
// process of its own (`fabric bench probe registry`) so that what it
// costs is measured apart from the hub and the simulated nodes.
type ProbeConfig struct {
	// Server is the NATS URL of the hub.
	Server string
	// Nodes is how many nodes to wait for before measuring.
	Nodes int
	// Window is how long to measure the steady state.
	Window time.Duration
	// Samples is how many routing decisions to time afterwards.
	Samples int
	// Settle is how long to wait, once every node is known, before
	// measuring: past the joins.
	Settle time.Duration
	// Bytes is how much the raw publisher publishes.
	Bytes int64
}

// probeResult is what the probe reports, as one JSON line.
type probeResult struct {
	Nodes        int     `json:"nodes"`
	Ready        int     `json:"ready"`
	MsgsPerSec   float64 `json:"msgs_per_sec"`
	SlowConsumer int64   `json:"slow_consumer"`
	CPUPercent   float64 `json:"cpu_percent"`
	RSS          int64   `json:"rss"`
	PeakRSS      int64   `json:"peak_rss"`
	RouteP50     int64   `json:"route_p50_ns"`
	RouteP99     int64   `json:"route_p99_ns"`
	RouteCPUP50  int64   `json:"route_cpu_p50_ns"`
	RouteCPUP99  int64   `json:"route_cpu_p99_ns"`
	Error        string  `json:"error,omitempty"`
}

// ProbeRegistry is that probe: a real front end (registry, router,
// dispatcher) connected to the hub. Once it knows cfg.Nodes nodes and one
// more heartbeat interval has passed, it writes "ready", measures its own
// CPU, memory and the heartbeats it takes in for cfg.Window, then times
// cfg.Samples routing decisions over the live table, and writes the result
// as a JSON line.
func ProbeRegistry(ctx context.Context, cfg ProbeConfig, out io.Writer) error {
	var slow atomic.Int64
	nc, err := nats.Connect(cfg.Server, nats.Name("fabric bench probe"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				slow.Add(1)
			}
		}))
	if err != nil {
		return fmt.Errorf("probe: connect: %w", err)
	}
	defer nc.Close()
	fe, err := frontend.New(nc, frontend.Config{NoSync: true})
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	defer fe.Close()
	if err := fe.Start(ctx); err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	if err := waitReady(ctx, fe, cfg.Nodes); err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	if err := sleep(ctx, cfg.Settle); err != nil {
		return err
	}
	fmt.Fprintln(out, "ready")

	u0, err := procstat.Self()
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	in0, t0 := nc.Stats().InMsgs, time.Now()
	if err := sleep(ctx, cfg.Window); err != nil {
		return err
	}
	u1, err := procstat.Self()
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	took := time.Since(t0)
	res := probeResult{
		Nodes:        cfg.Nodes,
		MsgsPerSec:   float64(nc.Stats().InMsgs-in0) / took.Seconds(),
		SlowConsumer: slow.Load(),
		CPUPercent:   100 * (u1.CPU - u0.CPU).Seconds() / took.Seconds(),
		RSS:          u1.RSS,
		PeakRSS:      u1.PeakRSS,
		Ready:        countReady(fe.Nodes(ctx)),
	}
	wall, cpu, err := timeRouting(fe, cfg.Samples)
	if err != nil {
		res.Error = err.Error()
	}
	res.RouteP50, res.RouteP99 = int64(quantile(wall, 0.5)), int64(quantile(wall, 0.99))
	res.RouteCPUP50, res.RouteCPUP99 = int64(quantile(cpu, 0.5)), int64(quantile(cpu, 0.99))
	if err := json.NewEncoder(out).Encode(res); err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	return nil
}

// timeRouting times n routing decisions (Plan: the same decision Run makes,
// without running) in wall time and in the CPU time of the thread.
func timeRouting(fe *frontend.Service, n int) (wall, cpu []time.Duration, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	req := frontend.Request{Task: wire.Task{Command: "make -j8"}, Batch: true}
	for range n {
		c0, cerr := procstat.ThreadCPU()
		start := time.Now()
		_, perr := fe.Plan(context.Background(), req)
		w := time.Since(start)
		c1, _ := procstat.ThreadCPU()
		if perr != nil {
			return wall, cpu, fmt.Errorf("route: %w", perr)
		}
		wall = append(wall, w)
		if cerr == nil {
			cpu = append(cpu, c1-c0)
		}
	}
	return wall, cpu, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
