package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"time"

	"github.com/fabric-run/fabric/internal/bench/procstat"
	"github.com/fabric-run/fabric/internal/capture"
	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/runner"
	"github.com/fabric-run/fabric/internal/wire"
)

// Big-output targets of the issue.
const (
	bigRateTarget = 0.5      // of the local pipe's rate
	bigMemSlack   = 32 << 20 // bytes over the output cap
)

// runBigOutput is scenario 7: a command writing a lot to stdout, streamed
// through the fabric (a `fabric node` process to the front end in this
// process) against the same command piped into this process locally and
// read away. Memory: how far each side's peak RSS rose over its RSS before.
func runBigOutput(ctx context.Context, e *env) ([]Result, error) {
	if _, err := procstat.Self(); errors.Is(err, procstat.ErrUnsupported) {
		return nil, &skipError{why: "process memory readings not supported on this OS"}
	}
	c, err := e.newCluster()
	if err != nil {
		return nil, err
	}
	defer c.close()
	node, err := c.spawnNode(ctx, "big", "--no-detect", "--slots", "2")
	if err != nil {
		return nil, err
	}
	fe, err := c.startFrontend(ctx, 1)
	if err != nil {
		return nil, err
	}
	size := e.sizes.output
	command := fmt.Sprintf("head -c %d /dev/zero", size)
	shell := runner.DefaultShell()

	// Warm both paths with a small run, then note where memory stands.
	if _, err := streamThrough(ctx, fe, "head -c 1048576 /dev/zero", 1<<20); err != nil {
		return nil, err
	}
	nodeBefore, err := procstat.Of(node.pid())
	if err != nil {
		return nil, err
	}
	if err := procstat.ResetPeak(); err != nil {
		return nil, err
	}
	selfBefore, err := procstat.Self()
	if err != nil {
		return nil, err
	}
	fabTook, err := streamThrough(ctx, fe, command, size)
	if err != nil {
		return nil, err
	}
	nodeAfter, err := procstat.Of(node.pid())
	if err != nil {
		return nil, err
	}
	selfAfter, err := procstat.Self()
	if err != nil {
		return nil, err
	}
	// Each side in turn, best of the rounds (the memory was measured on
	// the first fabric run): other work on the machine then spoils one
	// run of each rather than one side.
	var pipeTook, nullTook, rawTook time.Duration
	for round := range e.sizes.rounds {
		if round > 0 {
			t, err := streamThrough(ctx, fe, command, size)
			if err != nil {
				return nil, err
			}
			fabTook = min(fabTook, t)
		}
		t, err := pipeLocally(ctx, shell, command)
		if err != nil {
			return nil, err
		}
		pipeTook = best(pipeTook, t)
		if t, err = timeLocal(ctx, shell, command+" > /dev/null"); err != nil {
			return nil, err
		}
		nullTook = best(nullTook, t)
		if t, err = c.rawStream(ctx, size); err != nil {
			return nil, err
		}
		rawTook = best(rawTook, t)
	}

	mib := float64(size) / (1 << 20)
	fr, pr := mib/fabTook.Seconds(), mib/pipeTook.Seconds()
	r := ratioOf(fr, pr)
	limit := int64(wire.DefaultOutputLimit)
	budget := limit + bigMemSlack
	nodeGrew := nodeAfter.PeakRSS - nodeBefore.RSS
	feGrew := selfAfter.PeakRSS - selfBefore.RSS
	memTarget := fmt.Sprintf("≤ output cap (%s) + 32 MiB", capture.Size(limit))
	return []Result{
		{Measure: fmt.Sprintf("%s of stdout streamed through the fabric", capture.Size(size)), Value: fr, Unit: "MiB/s",
			Baseline: &Baseline{Name: "local pipe, read away", Value: pr, Unit: "MiB/s"}, Ratio: r,
			Target: fmt.Sprintf("≥ %.2f of local", bigRateTarget), Status: verdict(r >= bigRateTarget),
			Notes: fmt.Sprintf("best of %d runs each, in turns; command: %s; CPU per MiB: node %s, front end with hub %s; `%s > /dev/null` (no pipe at all) runs at %.0f MiB/s",
				e.sizes.rounds, command, perMiB(nodeAfter.CPU-nodeBefore.CPU, mib), perMiB(selfAfter.CPU-selfBefore.CPU, mib), command, mib/nullTook.Seconds())},
		{Measure: "the same bytes over NATS alone (no fabric)", Value: mib / rawTook.Seconds(), Unit: "MiB/s",
			Baseline: &Baseline{Name: "local pipe, read away", Value: pr, Unit: "MiB/s"}, Ratio: ratioOf(mib/rawTook.Seconds(), pr), Status: StatusInfo,
			Notes: "a process publishing 256 KiB messages with the node's flow control to a subscriber here, through the same hub: the transport's own ceiling"},
		{Measure: "node memory growth (peak RSS over RSS before)", Value: procstat.MiB(nodeGrew), Unit: "MiB",
			Target: memTarget, Status: verdict(nodeGrew <= budget),
			Notes: fmt.Sprintf("node RSS before %.1f MiB, peak %.1f MiB", procstat.MiB(nodeBefore.RSS), procstat.MiB(nodeAfter.PeakRSS))},
		{Measure: "front end memory growth (with the hub, same process)", Value: procstat.MiB(feGrew), Unit: "MiB",
			Target: memTarget, Status: verdict(feGrew <= budget),
			Notes: fmt.Sprintf("RSS before %.1f MiB, peak %.1f MiB", procstat.MiB(selfBefore.RSS), procstat.MiB(selfAfter.PeakRSS))},
	}, nil
}

// best is the shorter of two times, a zero one not counting.
func best(a, b time.Duration) time.Duration {
	if a == 0 || b < a {
		return b
	}
	return a
}

// perMiB is CPU time per MiB, for people.
func perMiB(cpu time.Duration, mib float64) string {
	return dur(time.Duration(float64(cpu) / mib))
}

// streamThrough runs command through the fabric, reading its output away,
// and checks that all want bytes arrived.
func streamThrough(ctx context.Context, fe *frontend.Service, command string, want int64) (time.Duration, error) {
	var got int64
	count := func(s wire.Stream, p []byte) {
		if s == wire.Stdout {
			got += int64(len(p))
		}
	}
	start := time.Now()
	out, err := fe.Run(ctx, frontend.Request{Task: wire.Task{Command: command, Timeout: wire.Duration(10 * time.Minute)}}, count)
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("fabric run %q: %w", command, err)
	}
	if r := out.Result; !r.Succeeded() || r.StdoutBytes != want || got != want {
		return 0, fmt.Errorf("fabric run %q: streamed %d of %d bytes, result %+v", command, got, want, r)
	}
	return took, nil
}

// pipeLocally runs command with its stdout piped into this process and
// read away.
func pipeLocally(ctx context.Context, shell, command string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, shell, "-c", command)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("local %q: %w", command, err)
	}
	buf := make([]byte, 64<<10)
	_, cerr := io.CopyBuffer(io.Discard, out, buf)
	if err := errors.Join(cerr, cmd.Wait()); err != nil {
		return 0, fmt.Errorf("local %q: %w", command, err)
	}
	return time.Since(start), nil
}

// timeLocal runs command locally with no pipe.
func timeLocal(ctx context.Context, shell, command string) (time.Duration, error) {
	start := time.Now()
	if err := exec.CommandContext(ctx, shell, "-c", command).Run(); err != nil {
		return 0, fmt.Errorf("local %q: %w", command, err)
	}
	return time.Since(start), nil
}
