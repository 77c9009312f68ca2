package cli

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fabric-run/fabric/internal/bench"
)

func (a *app) benchCommand() *cobra.Command {
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
					return &exitError{code: ExitError, err: err}
				}
				defer stop()
			}
			exe, err := os.Executable()
			if err != nil {
				return &exitError{code: ExitError, err: fmt.Errorf("bench: find this program: %w", err)}
			}
			rep, err := bench.Run(cmd.Context(), bench.Config{Short: short, Only: only, Exe: exe, Progress: a.io.Stderr, Logger: a.logger()})
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			if asJSON {
				err = bench.WriteJSON(a.io.Stdout, rep)
			} else {
				err = bench.WriteTable(a.io.Stdout, rep)
			}
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			if rep.Errored() {
				return &exitError{code: ExitError, err: errors.New("bench: some scenarios failed to run (see the table)")}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&short, "short", false, "run every scenario small (seconds in all): fewer runs, 200 tasks, 1,000 nodes, 64 MiB")
	f.BoolVar(&asJSON, "json", false, "print the results as JSON")
	f.StringSliceVar(&only, "only", nil, "run only these scenarios (numbers or names, comma-separated)")
	f.StringVar(&profile, "cpuprofile", "", "write a CPU profile of this process (hub and front end) to `file`")
	cmd.AddCommand(a.benchProbeCommand())
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

// benchProbeCommand is what `fabric bench` starts as separate processes to
// measure them apart from itself; not for people.
func (a *app) benchProbeCommand() *cobra.Command {
	var cfg bench.ProbeConfig
	cmd := &cobra.Command{
		Use:    "probe registry|publish|idle-frontend",
		Short:  "A process fabric bench measures (internal)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			switch args[0] {
			case "registry":
				cfg.Server = strings.Join(a.settings.Servers, ",") // --server
				return bench.ProbeRegistry(ctx, cfg, a.io.Stdout)
			case "publish":
				cfg.Server = strings.Join(a.settings.Servers, ",")
				return bench.ProbePublish(ctx, cfg, a.io.Stdout)
			case "idle-frontend":
				// What `fabric run` starts: embedded hub, local node, front end.
				a.settings.Servers = nil
				s, err := a.openSession(ctx, a.logger(), modeOneShot)
				if err != nil {
					return err
				}
				defer s.close()
				fmt.Fprintln(a.io.Stdout, "ready")
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
