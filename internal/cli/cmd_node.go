package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fabric-run/fabric/internal/worker"
	"github.com/fabric-run/fabric/subjects"
)

func (a *app) nodeCommand() *cobra.Command {
	var (
		name      string
		caps      []string
		slots     int
		osName    string
		arch      string
		heartbeat time.Duration
		noDetect  bool
		gpus      int
		limits    map[string]int
	)
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run this machine's worker: take tasks from the cluster and run them",
		Long: `Run a fabric worker node. It connects to NATS (--server or FABRIC_SERVER),
subscribes to the task subjects of its OS, architecture and capabilities,
runs each command in a process group of its own, and heartbeats its load.

Capabilities are detected from the programs on PATH (docker, podman, kubectl,
gcc, clang, go, cargo, python3, node, java, swift, nvidia-smi as gpu, ...),
plus those given with --caps. The node id defaults to the hostname made a
valid token (Marcs-Mac-Studio.local becomes marcs-mac-studio-local).

SIGINT or SIGTERM drains the node: it takes no new work, lets running tasks
finish (up to --drain-grace), says it is leaving, and exits. It reconnects
to NATS forever if the connection drops.

Install it as fabric-node, never as "node": that would shadow Node.js.`,
		Example: `  fabric node --server nats://hub:4222 --caps gpu,ollama
  fabric-node --server nats://hub:4222 --name builder --slots 8`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := nodeSupported(); err != nil {
				return &exitError{code: ExitError, err: err}
			}
			if len(a.settings.Servers) == 0 {
				return &exitError{code: ExitError, err: fmt.Errorf("node needs a NATS server: --server nats://HOST:4222 or FABRIC_SERVER (start one with `fabric serve`)")}
			}
			log := a.daemonLogger()
			cfg, err := a.workerConfig(log)
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			f := cmd.Flags()
			if f.Changed("name") {
				cfg.Name = name
			}
			if f.Changed("caps") {
				cfg.Capabilities = caps
			}
			if f.Changed("slots") {
				cfg.Slots = slots
			}
			if f.Changed("heartbeat") {
				cfg.HeartbeatInterval = heartbeat
			}
			cfg.OS, cfg.Arch, cfg.NoDetect = osName, arch, noDetect
			if f.Changed("drain-grace") {
				cfg.DrainGrace, _ = f.GetDuration("drain-grace")
			}
			if f.Changed("gpus") {
				cfg.GPUs = max(gpus, -1)
				if gpus == 0 {
					cfg.GPUs = -1
				}
			}
			if f.Changed("limit") {
				if cfg.Limits, err = parseLimits(limits); err != nil {
					return &exitError{code: ExitError, err: err}
				}
			}
			return a.runNode(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "node id (env FABRIC_NODE_NAME; default: the hostname as a token)")
	f.StringSliceVar(&caps, "caps", nil, "extra capabilities, comma-separated (env FABRIC_CAPS)")
	f.IntVar(&slots, "slots", 0, "tasks run at once (env FABRIC_SLOTS; default: CPU count)")
	f.StringVar(&osName, "os", "", "OS to report instead of this machine's (tests and demos)")
	f.StringVar(&arch, "arch", "", "architecture to report instead of this machine's (tests and demos)")
	f.DurationVar(&heartbeat, "heartbeat", 0, "heartbeat interval (env FABRIC_HEARTBEAT, default 2s)")
	f.Duration("drain-grace", 0, "how long running tasks may finish on shutdown (env FABRIC_DRAIN_GRACE, default 30s)")
	f.BoolVar(&noDetect, "no-detect", false, "do not detect capabilities from PATH")
	f.IntVar(&gpus, "gpus", 0, "GPU devices handed to tasks, one task each (config gpus:; default: nvidia-smi -L; 0: none)")
	f.StringToIntVar(&limits, "limit", nil, "at most N tasks needing a capability at once, as CAP=N (config limits:), e.g. --limit docker=1")
	return cmd
}

// parseLimits checks --limit values: capability tokens, caps of at least 1.
func parseLimits(in map[string]int) (map[string]int, error) {
	out := make(map[string]int, len(in))
	for c, n := range in {
		norm, err := subjects.NormalizeCapability(c)
		if err != nil {
			return nil, fmt.Errorf("--limit %s=%d: %w", c, n, err)
		}
		if n < 1 {
			return nil, fmt.Errorf("--limit %s=%d: the cap must be at least 1", c, n)
		}
		out[norm] = n
	}
	return out, nil
}

// runNode runs a worker until ctx ends, then drains it.
func (a *app) runNode(ctx context.Context, cfg worker.Config) error {
	log := cfg.Logger
	nc, err := a.connect(a.settings.Servers, "fabric-node", log, nodeConnOptions(cfg.HeartbeatInterval, log)...)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	defer nc.Close()
	w, err := worker.New(nc, cfg)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	if err := w.Start(); err != nil {
		return &exitError{code: ExitError, err: err}
	}
	if nc.IsConnected() {
		log.Info("node running", "node", w.ID(), "server", nc.ConnectedUrlRedacted(), "capabilities", w.Capabilities())
	} else {
		log.Warn("node running, NATS not reachable yet: retrying", "node", w.ID(), "servers", strings.Join(a.settings.Servers, ","), "capabilities", w.Capabilities())
	}
	<-ctx.Done()
	log.Info("shutting down: draining")
	if err := w.Drain(context.Background()); err != nil {
		return &exitError{code: ExitError, err: err}
	}
	return nil
}
