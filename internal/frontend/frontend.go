// Package frontend is the core every fabric front end shares (the CLI, the
// MCP server): it keeps the live node table, places commands with the
// router, sends them with the dispatcher, and runs batches that spread.
package frontend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/dispatch"
	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/router"
	"github.com/fabric-run/fabric/internal/sshnodes"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/subjects"
)

// Defaults for Config fields left zero.
const (
	DefaultTimeout   = 300 * time.Second
	DefaultSyncQuiet = 100 * time.Millisecond
	DefaultSyncMax   = 2 * time.Second
)

// ErrRefused is returned when the front end's own check (the command guard)
// refuses a command before it is sent anywhere.
var ErrRefused = errors.New("command refused")

// Config configures a Frontend.
type Config struct {
	// Subjects is the subject space; default subjects.Default().
	Subjects *subjects.Space
	// Thresholds are the local node's offload thresholds.
	Thresholds router.Thresholds
	// Local is the id of this machine's node. Empty means the one node whose
	// hostname is this machine's, if there is exactly one.
	Local string
	// DefaultTimeout applies to commands given none (default 300 s).
	DefaultTimeout time.Duration
	// AckTimeout is how long a node has to ack a task (dispatch default).
	AckTimeout time.Duration
	// SyncQuiet ends the start-up ping once no node has answered for this
	// long (default 100 ms); SyncMax bounds it (default 2 s).
	SyncQuiet, SyncMax time.Duration
	// NoSync skips the start-up ping: the caller feeds the registry (an
	// embedded fabric observes its own node).
	NoSync bool
	// Check, if set, vets every task before it is sent (the command guard).
	Check func(*wire.Task) error
	// Sign, if set, signs every task once it is final (nodes that trust
	// the key run only signed tasks).
	Sign func(*wire.Task) error
	// SSH, if set, is the part of the cluster reached over SSH: machines of
	// the inventory that run no worker. A machine whose name a worker
	// heartbeats under is reached through its worker.
	SSH *sshnodes.Cluster
	// Logger receives the front end's log; default discards.
	Logger *slog.Logger
}

// Frontend places and runs commands on the cluster. It is safe for
// concurrent use.
type Frontend struct {
	cfg      Config
	nc       *nats.Conn
	reg      *registry.Registry
	rt       *router.Router
	disp     *dispatch.Dispatcher
	log      *slog.Logger
	hostname string

	// waiting are the placements waiting for a free slot.
	waiting waiters
}

// New returns a Frontend using nc. Call Start before use.
func New(nc *nats.Conn, cfg Config) (*Frontend, error) {
	if cfg.Subjects == nil {
		s := subjects.Default()
		cfg.Subjects = &s
	}
	if cfg.DefaultTimeout <= 0 {
		cfg.DefaultTimeout = DefaultTimeout
	}
	if cfg.SyncQuiet <= 0 {
		cfg.SyncQuiet = DefaultSyncQuiet
	}
	if cfg.SyncMax <= 0 {
		cfg.SyncMax = DefaultSyncMax
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	reg := registry.New(nc, registry.Config{Subjects: cfg.Subjects, Logger: cfg.Logger})
	disp, err := dispatch.New(nc, reg, dispatch.Config{Subjects: cfg.Subjects, AckTimeout: cfg.AckTimeout, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	return &Frontend{
		cfg:      cfg,
		nc:       nc,
		reg:      reg,
		rt:       router.New(router.Config{Thresholds: cfg.Thresholds}),
		disp:     disp,
		log:      cfg.Logger,
		hostname: host,
	}, nil
}

// Start listens to heartbeats and pings the cluster, so the node table is
// complete when Start returns.
func (f *Frontend) Start(ctx context.Context) error {
	if err := f.reg.Start(); err != nil {
		return err
	}
	if f.cfg.NoSync {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.SyncMax)
	defer cancel()
	n, err := f.reg.Sync(ctx, f.cfg.SyncQuiet)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("frontend: ping the cluster: %w", err)
	}
	f.log.Debug("cluster synced", "nodes", n)
	return nil
}

// Close stops the front end. Safe to call twice.
func (f *Frontend) Close() {
	f.reg.Close()
	_ = f.disp.Close()
}

// Subjects returns the subject space.
func (f *Frontend) Subjects() subjects.Space { return *f.cfg.Subjects }

// Conn returns the NATS connection.
func (f *Frontend) Conn() *nats.Conn { return f.nc }

// Registry returns the live node table.
func (f *Frontend) Registry() *registry.Registry { return f.reg }

// Dispatcher returns the dispatcher (for cancels).
func (f *Frontend) Dispatcher() *dispatch.Dispatcher { return f.disp }

// Local returns the id of this machine's node ("" if none is known).
func (f *Frontend) Local() string {
	if f.cfg.Local != "" {
		return f.cfg.Local
	}
	if id, n := f.reg.OnHost(f.hostname); n == 1 {
		return id
	}
	return "" // none, or several nodes on this machine: none is "the" local one
}

// Candidates returns the nodes as the router sees them: the workers, then
// the SSH-only machines that no worker stands for.
func (f *Frontend) Candidates(ctx context.Context) []router.Candidate {
	nodes := f.reg.Snapshot()
	out := make([]router.Candidate, 0, len(nodes))
	workers := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		out = append(out, Candidate(n))
		workers[n.Node] = true
	}
	if f.cfg.SSH != nil {
		ctx, cancel := context.WithTimeout(ctx, f.cfg.SyncMax)
		defer cancel()
		for _, c := range f.cfg.SSH.Candidates(ctx) {
			if !workers[c.ID] {
				out = append(out, c)
			}
		}
	}
	return out
}

// Candidate turns a registry node into a router candidate.
func Candidate(n registry.Node) router.Candidate {
	c := router.Candidate{
		ID: n.Node, OS: n.OS, Arch: n.Arch, Capabilities: n.Capabilities, Via: router.ViaNATS,
		Ready:      n.Health == registry.HealthReady,
		CPUPercent: n.CPUPercent, MemPercent: n.MemPercent, Load1: n.Load1, CPUs: n.CPUs,
		Running: n.Running, Slots: n.Slots,
	}
	switch n.Health {
	case registry.HealthStale:
		c.NotReady = router.NotReadyStale(time.Since(n.Seen))
	case registry.HealthDraining:
		c.NotReady = router.NotReadyDraining
	case registry.HealthLeaving:
		c.NotReady = router.NotReadyLeft
	}
	return c
}

// released notes that a placement ended: the first waiting placement
// retries.
func (f *Frontend) released(node string) {
	f.rt.Release(node)
	f.waiting.freed()
}
