// Package benchcmd is the `fabric bench` command: the benchmark's face on
// the command line. cmd/fabric adds it to cli.Run; it is a package of its
// own so that the fabric-node program, built from the same cli package,
// links neither the benchmark nor the loopback sshd its SSH scenarios
// launch.
package benchcmd

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fabric-run/fabric/internal/bench"
	"github.com/fabric-run/fabric/internal/cli"
)

// Command is `fabric bench` (with its hidden `probe` subcommand), for
// cli.Run.
func Command(env cli.Env) *cobra.Command {
	var (
		short   bool
		asJSON  bool
		only    []string
		profile string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the fabric against its performance targets",
		Long: `Measure the fabric against the targets of its performance issue, each side by
side with a baseline in the same run: dispatch latency of ` + "`true`" + ` against a bare
NATS request that execs it, a batch against a local loop, a simulated cluster
of 10,000 nodes, the idle footprint, and streaming 1 GiB of output.

It starts what it needs (an embedded hub on a loopback port, nodes in this
process or as separate ` + "`fabric node`" + ` processes) and stops it again. A full
run takes a few minutes; --short runs every scenario small, in seconds.`,
		Example: `  fabric bench
  fabric bench --short --json
  fabric bench --only 1,latency`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if profile != "" {
				stop, err := startCPUProfile(profile)
				if err != nil {
					return err
				}
				defer stop()
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench: find this program: %w", err)
			}
			stdio := env.IO()
			rep, err := bench.Run(cmd.Context(), bench.Config{Short: short, Only: only, Exe: exe, Progress: stdio.Stderr, Logger: env.Logger()})
			if err != nil {
				return err
			}
			if asJSON {
				err = bench.WriteJSON(stdio.Stdout, rep)
			} else {
				err = bench.WriteTable(stdio.Stdout, rep)
			}
			if err != nil {
				return err
			}
			if rep.Errored() {
				return errors.New("bench: some scenarios failed to run (see the table)")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&short, "short", false, "run every scenario small (seconds in all): fewer runs, 200 tasks, 1,000 nodes, 64 MiB")
	f.BoolVar(&asJSON, "json", false, "print the results as JSON")
	f.StringSliceVar(&only, "only", nil, "run only these scenarios (numbers or names, comma-separated)")
	f.StringVar(&profile, "cpuprofile", "", "write a CPU profile of this process (hub and front end) to `file`")
	cmd.AddCommand(probeCommand(env))
	return cmd
}

// startCPUProfile profiles this process to path until stop.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("bench: cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// probeCommand is what `fabric bench` starts as separate processes to
// measure them apart from itself; not for people.
func probeCommand(env cli.Env) *cobra.Command {
	var cfg bench.ProbeConfig
	cmd := &cobra.Command{
		Use:    "probe registry|publish|idle-frontend",
		Short:  "A process fabric bench measures (internal)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stdout := cmd.Context(), env.IO().Stdout
			switch args[0] {
			case "registry":
				cfg.Server = strings.Join(env.Servers(), ",") // --server
				return bench.ProbeRegistry(ctx, cfg, stdout)
			case "publish":
				cfg.Server = strings.Join(env.Servers(), ",")
				return bench.ProbePublish(ctx, cfg, stdout)
			case "idle-frontend":
				// What `fabric run` starts: embedded hub, local node, front end.
				stop, err := env.StartOneShot(ctx)
				if err != nil {
					return err
				}
				defer stop()
				fmt.Fprintln(stdout, "ready")
				<-ctx.Done()
				return nil
			}
			return fmt.Errorf("unknown probe %q", args[0])
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Nodes, "nodes", 1000, "nodes to wait for")
	f.DurationVar(&cfg.Window, "window", 10*time.Second, "how long to measure")
	f.IntVar(&cfg.Samples, "samples", 1000, "routing decisions to time")
	f.DurationVar(&cfg.Settle, "settle", 2*time.Second, "how long to wait once every node is known")
	f.Int64Var(&cfg.Bytes, "bytes", 1<<20, "bytes to publish")
	return cmd
}
