package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/fabric-run/fabric/internal/bench/procstat"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/subjects"
)

// Scale targets of the issue.
const (
	scaleCPUTarget   = 25.0      // % of one core
	scaleRSSTarget   = 150 << 20 // bytes
	scaleRouteTarget = 100 * time.Microsecond
	// simInterval is the simulated nodes' heartbeat interval.
	simInterval = time.Second
	// simPerConn is how many simulated nodes share a NATS connection.
	simPerConn = 1000
	// simTick is how often a simulator publishes the heartbeats due.
	simTick = 10 * time.Millisecond
)

// runScale is scenario 5: simulated nodes heartbeating every second over
// real NATS (msgpack on fabric.heartbeat.<node>) into a front end that runs
// as a process of its own; then routing decisions over its live table.
func runScale(ctx context.Context, e *env) ([]Result, error) {
	c, err := e.newCluster()
	if err != nil {
		return nil, err
	}
	defer c.close()
	n := e.sizes.nodes
	probe, err := e.start(ctx, "bench", "probe", "registry", "--server", c.hub.ClientURL(),
		"--nodes", strconv.Itoa(n), "--window", e.sizes.window.String(), "--samples", strconv.Itoa(e.sizes.routeSamples),
		"--settle", min(2*simInterval, e.sizes.settle+simInterval/2).String())
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, probe)

	simCtx, stopSim := context.WithCancel(ctx)
	var sims sync.WaitGroup
	defer func() { stopSim(); sims.Wait() }()
	for first := 0; first < n; first += simPerConn {
		nc, err := c.connect(fmt.Sprintf("simulated nodes %d", first))
		if err != nil {
			return nil, err
		}
		nodes := simNodes(first, min(first+simPerConn, n))
		sims.Go(func() { simulate(simCtx, nc, nodes) })
	}

	wait, cancel := context.WithTimeout(ctx, readyTimeout+e.sizes.window+time.Minute)
	defer cancel()
	if line, err := probe.line(wait); err != nil || line != "ready" {
		return nil, fmt.Errorf("probe: %q, %w", line, err)
	}
	line, err := probe.line(wait)
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	var p probeResult
	if err := json.Unmarshal([]byte(line), &p); err != nil {
		return nil, fmt.Errorf("probe said %q: %w", line, err)
	}
	if p.Error != "" {
		return nil, fmt.Errorf("probe: %s", p.Error)
	}
	kept := p.SlowConsumer == 0 && p.Ready == n && p.MsgsPerSec >= 0.95*float64(n)/simInterval.Seconds()
	return []Result{
		{Measure: fmt.Sprintf("front end, %d nodes heartbeating every %s: heartbeats taken in", n, simInterval),
			Value: p.MsgsPerSec, Unit: "msgs/s", Target: "keeps up, no slow-consumer drops", Status: verdict(kept),
			Notes: fmt.Sprintf("%d of %d nodes ready at the end, %d slow-consumer events", p.Ready, n, p.SlowConsumer)},
		{Measure: "front end CPU", Value: p.CPUPercent, Unit: "% core",
			Target: fmt.Sprintf("≤ %.0f%% of one core", scaleCPUTarget), Status: verdict(p.CPUPercent <= scaleCPUTarget),
			Notes: fmt.Sprintf("over %s of steady state, the probe process alone (hub and simulators apart)", e.sizes.window)},
		{Measure: "front end memory (peak RSS)", Value: procstat.MiB(p.PeakRSS), Unit: "MiB",
			Target: fmt.Sprintf("≤ %d MiB", scaleRSSTarget>>20), Status: verdict(p.PeakRSS <= scaleRSSTarget),
			Notes: fmt.Sprintf("RSS at the end %.1f MiB", procstat.MiB(p.RSS))},
		{Measure: fmt.Sprintf("routing decision over %d live nodes", n), P50: time.Duration(p.RouteP50), P99: time.Duration(p.RouteP99),
			Target: fmt.Sprintf("p99 ≤ %s", scaleRouteTarget), Status: verdict(time.Duration(p.RouteP99) <= scaleRouteTarget),
			Notes: fmt.Sprintf("%d decisions (front end Plan: inference + the router's scan of the node table) while heartbeats stream in; thread CPU p50 %s, p99 %s (wall time includes being descheduled)",
				e.sizes.routeSamples, dur(time.Duration(p.RouteCPUP50)), dur(time.Duration(p.RouteCPUP99)))},
	}, nil
}

// simNode is one simulated node: its heartbeat and subject.
type simNode struct {
	subject string
	hb      wire.Heartbeat
	phase   int // which tick of the interval it beats in
}

func simNodes(from, to int) []simNode {
	sp := subjects.Default()
	capsPool := []string{"docker", "make", "gcc", "go", "python3", "node", "cargo", "gpu"}
	rng := rand.New(rand.NewPCG(uint64(from), 1))
	ticks := int(simInterval / simTick)
	out := make([]simNode, 0, to-from)
	for i := from; i < to; i++ {
		id := fmt.Sprintf("sim-%05d", i)
		subj, _ := sp.Heartbeat(id)
		caps := []string{"any"}
		for _, c := range capsPool {
			if rng.IntN(3) == 0 {
				caps = append(caps, c)
			}
		}
		osName, arch := "linux", "amd64"
		if i%10 == 0 {
			osName, arch = "darwin", "arm64"
		}
		out = append(out, simNode{subject: subj, phase: rng.IntN(ticks), hb: wire.Heartbeat{
			Node: id, Instance: nuid.Next(), Hostname: id + ".sim", OS: osName, Arch: arch, Capabilities: caps,
			CPUs: 8, Slots: 8, State: wire.StateReady, Version: "0.1.0", Interval: wire.Duration(simInterval)}})
	}
	return out
}

// simulate publishes each node's heartbeat once per interval, each in its
// own tick of it, with its load moving, until ctx ends.
func simulate(ctx context.Context, nc *nats.Conn, nodes []simNode) {
	ticks := int(simInterval / simTick)
	byTick := make([][]*simNode, ticks)
	for i := range nodes {
		byTick[nodes[i].phase] = append(byTick[nodes[i].phase], &nodes[i])
	}
	enc := wire.NewEncoder()
	rng := rand.New(rand.NewPCG(uint64(len(nodes)), 2))
	t := time.NewTicker(simTick)
	defer t.Stop()
	for k := 0; ; k = (k + 1) % ticks {
		for _, sn := range byTick[k] {
			hb := &sn.hb
			hb.CPUPercent, hb.MemPercent, hb.Load1 = rng.Float64()*100, 20+rng.Float64()*60, rng.Float64()*8
			hb.Running, hb.Time = rng.IntN(3), time.Now()
			msg, err := enc.Msg(sn.subject, hb)
			if err == nil {
				err = nc.PublishMsg(msg)
			}
			if err != nil {
				return // the connection closed: the run is over
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
