package bench

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/runner"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

// Latency targets of the issue: fabric's p50 and p99 over the baseline's.
const (
	latencyP50Target = 1.15
	latencyP99Target = 1.5
)

// runLatency is scenario 1: `true` through the fabric (front end → node →
// result) against a bare NATS request to a responder that execs it, timed
// in turns so that noise falls on both alike. The node runs commands under
// its shell (bash where present); the baseline the issue names execs
// `sh -c true`. Both are reported, and the baseline in the node's own shell.
func runLatency(ctx context.Context, e *env) ([]Result, error) {
	c, fe, err := e.oneNode(ctx)
	if err != nil {
		return nil, err
	}
	defer c.close()
	shell := runner.DefaultShell()
	// `true` is a shell builtin: the node runs it under its shell. The
	// program true (by its path) is a simple command the node runs
	// directly once its shell passed the check.
	trueProg, err := exec.LookPath("true")
	if err != nil {
		return nil, fmt.Errorf("no true program: %w", err)
	}
	direct := waitDirect(ctx, c.workers[0])
	raw, err := c.connect("raw responder")
	if err != nil {
		return nil, err
	}
	for subj, argv := range map[string][]string{
		"bench.raw.sh":         {"/bin/sh", "-c", "true"},
		"bench.raw.shell":      {shell, "-c", "true"},
		"bench.raw.sh-program": {"/bin/sh", "-c", trueProg},
	} {
		if _, err := raw.Subscribe(subj, func(m *nats.Msg) {
			reply := []byte("ok")
			if err := exec.Command(argv[0], argv[1:]...).Run(); err != nil {
				reply = []byte(err.Error())
			}
			_ = m.Respond(reply)
		}); err != nil {
			return nil, fmt.Errorf("raw responder: %w", err)
		}
	}
	if err := raw.Flush(); err != nil {
		return nil, err
	}
	client, err := c.connect("raw client")
	if err != nil {
		return nil, err
	}
	request := func(subj string) func() error {
		return func() error {
			m, err := client.RequestWithContext(ctx, subj, nil)
			if err != nil {
				return fmt.Errorf("raw request: %w", err)
			}
			if string(m.Data) != "ok" {
				return fmt.Errorf("raw responder: %s", m.Data)
			}
			return nil
		}
	}
	ops := []func() error{
		func() error { return runTrue(ctx, fe, "true") },
		request("bench.raw.sh"),
		request("bench.raw.shell"),
		func() error { return runTrue(ctx, fe, trueProg) },
		request("bench.raw.sh-program"),
	}
	times, err := interleave(ctx, ops, e.sizes.latencyWarm, e.sizes.latencyRuns)
	if err != nil {
		return nil, err
	}
	fab, sh, same, prog, shProg := times[0], times[1], times[2], times[3], times[4]
	target := fmt.Sprintf("p50 ≤ %.2f×, p99 ≤ %.1f×", latencyP50Target, latencyP99Target)
	vs := func(measure string, fabric []time.Duration, name string, base []time.Duration, notes string) Result {
		r := against(measure, fabric, name, base)
		r.Target, r.Status, r.Notes = target, verdict(r.Ratio <= latencyP50Target && r.RatioP99 <= latencyP99Target), notes
		return r
	}
	shellName := filepath.Base(shell)
	how := "the node runs it directly (its shell passed the check)"
	if !direct {
		how = "the direct path is off here (the shell did not pass the check): the node runs it under " + shell
	}
	shells := against("raw "+shellName+" -c true vs raw sh -c true", same, "raw sh", sh)
	shells.Status, shells.Notes = StatusInfo, "what the node's shell costs over /bin/sh, with no fabric at all"
	return []Result{
		vs("`true` vs raw NATS + exec sh -c true", fab, "raw sh", sh,
			fmt.Sprintf("%d runs each, in turns; the node runs commands under %s, the baseline under /bin/sh", len(fab), shell)),
		vs("`true` vs raw NATS + exec "+shellName+" -c true", fab, "raw "+shellName, same,
			"same shell on both sides: what the fabric itself adds"),
		vs(fmt.Sprintf("%s (a program) vs raw NATS + exec sh -c %s", trueProg, trueProg), prog, "raw sh", shProg, how),
		shells,
	}, nil
}

// waitDirect waits a little for an in-process node to turn its direct path
// on, and says whether it did.
func waitDirect(ctx context.Context, w *worker.Worker) bool {
	if runner.DirectCheck(runner.DefaultShell()) != nil {
		return false // it never will
	}
	deadline := time.Now().Add(worker.DirectCheckDelay + 5*time.Second)
	for !w.Direct() && time.Now().Before(deadline) && ctx.Err() == nil {
		_ = sleep(ctx, 50*time.Millisecond)
	}
	return w.Direct()
}

// runTrue runs command through the fabric and checks it exited 0.
func runTrue(ctx context.Context, fe *frontend.Service, command string) error {
	out, err := fe.Run(ctx, frontend.Request{Task: wire.Task{Command: command}}, nil)
	if err != nil {
		return fmt.Errorf("fabric run %q: %w", command, err)
	}
	if r := out.Result; !r.Succeeded() {
		return fmt.Errorf("fabric run %q: %+v", command, r)
	}
	return nil
}

// interleave runs every op warm+runs times, in turns (rotating which goes
// first), and returns the times of the last runs of each.
func interleave(ctx context.Context, ops []func() error, warm, runs int) ([][]time.Duration, error) {
	times := make([][]time.Duration, len(ops))
	for i := range warm + runs {
		for k := range ops {
			j := (i + k) % len(ops)
			start := time.Now()
			if err := ops[j](); err != nil {
				return nil, err
			}
			if i >= warm {
				times[j] = append(times[j], time.Since(start))
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return times, nil
}
