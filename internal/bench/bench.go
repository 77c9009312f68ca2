// Package bench measures fabric against the targets of its performance
// issue, each side by side with a baseline in the same run: dispatch
// latency against a bare NATS request that execs, batch throughput against
// a local loop, a simulated 10,000-node cluster, the idle footprint, and
// streaming a large output. It starts what it needs (an embedded hub, nodes
// in process or as separate `fabric node` processes) and stops it again.
// `fabric bench` runs it and prints the table.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"
)

// Config configures a run. The zero value runs every scenario in full
// with no separate processes (those scenarios then report an error).
type Config struct {
	// Short runs every scenario small: fewer iterations, 200 tasks, 1,000
	// simulated nodes, 64 MiB of output. Seconds in all; for CI.
	Short bool
	// Only, if set, names the scenarios to run (by number or name: "1",
	// "latency"); the others are left out of the report.
	Only []string
	// Exe is the fabric binary to start separate processes from (`fabric
	// node`, `fabric bench probe`); usually os.Executable().
	Exe string
	// ExeEnv is added to the environment of those processes.
	ExeEnv []string
	// Progress, if set, receives a line as each scenario starts.
	Progress io.Writer
	// Logger receives the log of what the run starts; default discards.
	Logger *slog.Logger
}

// Report is the outcome of a run.
type Report struct {
	// Short is set for a short run.
	Short bool `json:"short"`
	// Machine describes where it ran.
	Machine Machine `json:"machine"`
	// Results has one entry per measure, in scenario order.
	Results []Result `json:"results"`
	// Took is the wall time of the run.
	Took time.Duration `json:"took_ns"`
}

// Status values of a Result, besides "skipped: why" and "error: what".
const (
	StatusMet    = "met"
	StatusNotMet = "not met"
	StatusInfo   = "info" // a measure with no target of its own
)

// Result is one measure of a scenario and its verdict.
type Result struct {
	// Scenario is the number and name: "1 dispatch latency".
	Scenario string `json:"scenario"`
	// Measure says what was measured: "fabric `true` vs raw NATS + sh -c true".
	Measure string `json:"measure"`
	// P50 and P99 are latencies (zero if not a latency).
	P50 time.Duration `json:"p50_ns,omitempty"`
	P99 time.Duration `json:"p99_ns,omitempty"`
	// Value and Unit are a rate or an amount: 412 tasks/s, 23.5 MiB.
	Value float64 `json:"value,omitempty"`
	Unit  string  `json:"unit,omitempty"`
	// Baseline is what fabric is compared with, measured in the same run.
	Baseline *Baseline `json:"baseline,omitempty"`
	// Ratio is fabric over the baseline (latency, memory) or fabric as a
	// fraction of it (throughput), as Target states it.
	Ratio float64 `json:"ratio,omitempty"`
	// RatioP99 is the p99 ratio of a latency.
	RatioP99 float64 `json:"ratio_p99,omitempty"`
	// Target is the target for this measure.
	Target string `json:"target,omitempty"`
	// Status is StatusMet, StatusNotMet, StatusInfo, "skipped: why" or
	// "error: what".
	Status string `json:"status"`
	// Notes say what else was seen.
	Notes string `json:"notes,omitempty"`
}

// Baseline is the measure fabric is compared with.
type Baseline struct {
	Name  string        `json:"name"`
	P50   time.Duration `json:"p50_ns,omitempty"`
	P99   time.Duration `json:"p99_ns,omitempty"`
	Value float64       `json:"value,omitempty"`
	Unit  string        `json:"unit,omitempty"`
}

// Errored reports whether any scenario failed to run (skips are fine).
func (r *Report) Errored() bool {
	return slices.ContainsFunc(r.Results, func(x Result) bool { return strings.HasPrefix(x.Status, "error") })
}

// scenario is one of the scenarios.
type scenario struct {
	num  string
	name string
	run  func(ctx context.Context, e *env) ([]Result, error)
}

// scenarios are the issue's, in its order. 2 and 3 need sshd on this machine.
func scenarios() []scenario {
	return []scenario{
		{"1", "dispatch latency", runLatency},
		{"2", "ssh dispatch latency", runSSHLatency},
		{"3", "ssh fallback", runSSHFallback},
		{"4", "throughput", runThroughput},
		{"5", "scale", runScale},
		{"6", "footprint", runFootprint},
		{"7", "big output", runBigOutput},
	}
}

// env is what a scenario gets: the configuration and its sizes.
type env struct {
	cfg   Config
	log   *slog.Logger
	sizes sizes
}

// Run runs the scenarios and reports every measure. A scenario that fails
// reports an error result; Run itself fails only if ctx ends.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// Processes the bench starts get a state directory of their own, so a
	// local hub running on this machine is neither used nor disturbed.
	state, err := os.MkdirTemp("", "fabric-bench-state-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(state)
	cfg.ExeEnv = append(slices.Clone(cfg.ExeEnv), "FABRIC_STATE_DIR="+state)
	e := &env{cfg: cfg, log: cfg.Logger, sizes: sizesFor(cfg.Short)}
	rep := &Report{Short: cfg.Short, Machine: thisMachine()}
	start := time.Now()
	for _, s := range scenarios() {
		if !selected(cfg.Only, s) {
			continue
		}
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "bench: %s %s\n", s.num, s.name)
		}
		began := time.Now()
		res, err := s.run(ctx, e)
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "bench: %s %s took %s\n", s.num, s.name, time.Since(began).Round(100*time.Millisecond))
		}
		if ctx.Err() != nil {
			return rep, fmt.Errorf("bench: %w", ctx.Err())
		}
		title := s.num + " " + s.name
		var skip *skipError
		switch {
		case errors.As(err, &skip):
			res = []Result{{Status: "skipped: " + skip.why}}
		case err != nil:
			res = append(res, Result{Status: "error: " + err.Error()})
		}
		for i := range res {
			res[i].Scenario = title
		}
		rep.Results = append(rep.Results, res...)
	}
	rep.Took = time.Since(start)
	rep.Machine.Load1End = load1()
	return rep, nil
}

func selected(only []string, s scenario) bool {
	if len(only) == 0 {
		return true
	}
	return slices.ContainsFunc(only, func(o string) bool { return o == s.num || strings.EqualFold(o, s.name) })
}

// skipError says a scenario cannot run here, and why.
type skipError struct{ why string }

// Error implements error.
func (e *skipError) Error() string { return "skipped: " + e.why }

// sizes are the scenario sizes of a full or a short run.
type sizes struct {
	latencyRuns, latencyWarm int
	tasks                    int
	nodes                    int
	window                   time.Duration // scale and footprint measuring window
	settle                   time.Duration // footprint, scale: time to settle before measuring
	routeSamples             int
	output                   int64
	rounds                   int // throughput: runs of each side, best kept
}

func sizesFor(short bool) sizes {
	if short {
		return sizes{latencyRuns: 20, latencyWarm: 3, tasks: 200, nodes: 1000, window: time.Second,
			settle: 500 * time.Millisecond, routeSamples: 200, output: 64 << 20, rounds: 1}
	}
	return sizes{latencyRuns: 500, latencyWarm: 30, tasks: 2000, nodes: 10000, window: 20 * time.Second,
		settle: 5 * time.Second, routeSamples: 5000, output: 1 << 30, rounds: 2}
}
