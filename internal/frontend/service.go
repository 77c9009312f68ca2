// Package frontend is the one service every fabric front end (the CLI, the
// MCP server) runs tasks through. It keeps the live node table (registry),
// places each task with the router, offers it to the chosen nodes in turn
// through their executors (workers over NATS: dispatch; SSH machines:
// sshexec), records it (tasks), follows it past the caller's patience, and
// answers status, output, wait and cancel for any task id, its own or, from
// the records, another front end's.
package frontend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/dispatch"
	"github.com/fabric-run/fabric/internal/inventory"
	"github.com/fabric-run/fabric/internal/locks"
	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/router"
	"github.com/fabric-run/fabric/internal/sshexec"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/subjects"
)

// Defaults for Config fields left zero.
const (
	DefaultSyncQuiet = 100 * time.Millisecond
	DefaultSyncMax   = 2 * time.Second
	DefaultKeepLive  = 10 * time.Minute
)

// Errors of the service. The router's (router.ErrNoMatch ...) and the
// executors' (wire.ErrNotStarted, wire.ErrNodeRefused) come through as they
// are; ErrorKind classifies them all.
var (
	// ErrRefused is returned when the front end's own check (the command
	// guard) refuses a command before it is sent anywhere.
	ErrRefused = errors.New("command refused")
	// ErrUnknownTask is returned for a task id no record knows.
	ErrUnknownTask = errors.New("unknown task")

	errShuttingDown = errors.New("task service is shutting down")
)

// Config configures a Service.
type Config struct {
	// Subjects is the subject space; default subjects.Default().
	Subjects *subjects.Space
	// Store keeps the task records; nil means in memory, for this
	// process only.
	Store tasks.Store
	// Thresholds are the local node's offload thresholds.
	Thresholds router.Thresholds
	// Local is the id of this machine's node. Empty means the one worker
	// whose hostname is this machine's, if there is exactly one.
	Local string
	// DefaultTimeout applies to commands given none (default
	// wire.DefaultTimeout).
	DefaultTimeout time.Duration
	// AckTimeout is how long a worker has to ack a task (dispatch default).
	AckTimeout time.Duration
	// SyncQuiet ends the start-up ping once no node has answered for this
	// long (default 100 ms); SyncMax bounds it (default 2 s), and bounds
	// the wait for SSH machines never probed before a decision or a
	// listing.
	SyncQuiet, SyncMax time.Duration
	// NoSync skips the start-up ping: the caller feeds the node table
	// (Observe; an embedded fabric observes its own node).
	NoSync bool
	// Check, if set, vets every task before it is sent (the command guard).
	Check func(*wire.Task) error
	// Sign, if set, signs every task once it is final (nodes that trust
	// the key run only signed tasks); SignInput each piece of a task's
	// streamed standard input.
	Sign      func(*wire.Task) error
	SignInput func(*wire.Input) error
	// SSHNodes are the machines of the inventory that run no worker,
	// reached over SSH (sshexec); a machine a worker heartbeats under is
	// reached through its worker. SSH configures those connections and
	// ProbeTTL how long a probe of their load is trusted (default
	// sshexec.DefaultProbeTTL).
	SSHNodes []inventory.Node
	SSH      sshexec.Config
	ProbeTTL time.Duration
	// OutputLimit is how much of each stream is kept in memory for a task
	// this front end follows (default wire.DefaultOutputLimit).
	OutputLimit int
	// KeepLive is how long a finished task stays in memory after it ended,
	// for fast reads (default 10 min); the record stays in the store.
	KeepLive time.Duration
	// Logger receives the service's log; default discards.
	Logger *slog.Logger
}

// Executor runs a task on one node of the kind it reaches: dispatch.
// Dispatcher (workers, over NATS) and sshexec.Machines (SSH machines). The
// service picks the executor by the node's Via; offer tries the nodes of a
// decision in turn through them.
type Executor interface {
	// Execute offers task to node and, once the node took it (h.OnAccepted),
	// follows it to its end and returns its result. An error that is
	// wire.ErrNotStarted (a *wire.Declined) means it never started there
	// and another node may be tried; wire.ErrNodeRefused that no node
	// would take it; ctx's error that ctx ended before it started. With
	// wire.ErrUnconfirmed the node took the task and never reported its
	// end: the result is the executor's own account of it. A nil result
	// with a nil error means h.Detach ended the following.
	Execute(ctx context.Context, task *wire.Task, node *registry.Node, h wire.Hooks) (*wire.Result, error)
}

// The executors of the two kinds of node.
var (
	_ Executor = (*dispatch.Dispatcher)(nil)
	_ Executor = (*sshexec.Machines)(nil)
)

// Service runs tasks on the cluster and answers for them. It is safe for
// concurrent use.
type Service struct {
	cfg      Config
	nc       *nats.Conn
	reg      *registry.Registry
	rt       *router.Router
	disp     *dispatch.Dispatcher
	ssh      *sshexec.Machines // nil without SSH machines
	store    tasks.Store
	ownStore bool // made here: closed by Close
	log      *slog.Logger
	hostname string
	// executors run tasks, by how their nodes are reached (Node.Via).
	executors map[string]Executor

	// waiting are the placements waiting for a free slot.
	waiting waiters

	mu     sync.Mutex
	live   map[string]*live
	closed bool
	locks  *locks.Store // the hub's lock bucket, opened on first use

	detach    chan struct{} // closed by Close: followers let their tasks run on
	followers sync.WaitGroup
	closeOnce sync.Once
}

// New returns a Service using nc. Call Start before use.
func New(nc *nats.Conn, cfg Config) (*Service, error) {
	if cfg.Subjects == nil {
		s := subjects.Default()
		cfg.Subjects = &s
	}
	if cfg.DefaultTimeout <= 0 {
		cfg.DefaultTimeout = wire.DefaultTimeout
	}
	if cfg.SyncQuiet <= 0 {
		cfg.SyncQuiet = DefaultSyncQuiet
	}
	if cfg.SyncMax <= 0 {
		cfg.SyncMax = DefaultSyncMax
	}
	if cfg.OutputLimit <= 0 {
		cfg.OutputLimit = wire.DefaultOutputLimit
	}
	if cfg.KeepLive <= 0 {
		cfg.KeepLive = DefaultKeepLive
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		cfg: cfg, nc: nc, store: cfg.Store, log: cfg.Logger,
		rt:   router.New(router.Config{Thresholds: cfg.Thresholds}),
		live: map[string]*live{}, detach: make(chan struct{}),
	}
	s.hostname, _ = os.Hostname()
	s.reg = registry.New(nc, registry.Config{Subjects: cfg.Subjects, Logger: cfg.Logger})
	disp, err := dispatch.New(nc, s.reg, dispatch.Config{Subjects: cfg.Subjects, AckTimeout: cfg.AckTimeout, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	s.disp = disp
	s.executors = map[string]Executor{wire.ViaNATS: disp}
	if len(cfg.SSHNodes) > 0 {
		m, err := sshexec.NewMachines(sshexec.MachinesConfig{Nodes: cfg.SSHNodes, SSH: cfg.SSH, ProbeTTL: cfg.ProbeTTL, Logger: cfg.Logger}, s.reg)
		if err != nil {
			_ = disp.Close()
			return nil, err
		}
		s.ssh = m
		s.executors[wire.ViaSSH] = m
	}
	if s.store == nil {
		s.store, s.ownStore = tasks.NewMemory(tasks.Config{Logger: cfg.Logger}), true
	}
	return s, nil
}

// Start listens to heartbeats and pings the cluster, so the node table is
// complete when Start returns.
func (s *Service) Start(ctx context.Context) error {
	if err := s.reg.Start(); err != nil {
		return err
	}
	if s.cfg.NoSync {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SyncMax)
	defer cancel()
	n, err := s.reg.Sync(ctx, s.cfg.SyncQuiet)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("frontend: ping the cluster: %w", err)
	}
	s.log.Debug("cluster synced", "nodes", n)
	return nil
}

// Close stops following tasks: those on workers run on, and their nodes
// still record their results; those over SSH end with this process (their
// connections close). It waits for the followers to have recorded what
// they know. Safe to call twice.
func (s *Service) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.detach)
		if s.ssh != nil {
			_ = s.ssh.Close()
		}
		s.followers.Wait()
		s.reg.Close()
		_ = s.disp.Close()
		if s.ownStore {
			_ = s.store.Close()
		}
	})
}

// Store returns the record store.
func (s *Service) Store() tasks.Store { return s.store }

// Observe records a worker's heartbeat as if it had just arrived: an
// embedded fabric tells the service of its own node at once.
func (s *Service) Observe(hb *wire.Heartbeat) { s.reg.Observe(hb) }

// Local returns the id of this machine's node ("" if none is known).
func (s *Service) Local() string {
	if s.cfg.Local != "" {
		return s.cfg.Local
	}
	if id, n := s.reg.OnHost(s.hostname); n == 1 {
		return id
	}
	return "" // none, or several nodes on this machine: none is "the" local one
}

// Nodes returns every node of the cluster as the registry has it: the
// workers from their heartbeats, then the SSH machines from their probes
// (waiting, up to SyncMax, for machines never probed).
func (s *Service) Nodes(ctx context.Context) []registry.Node {
	s.refreshSSH(ctx)
	return s.reg.Snapshot()
}

// WaitNodes waits until cond holds for the nodes, or ctx ends.
func (s *Service) WaitNodes(ctx context.Context, cond func([]registry.Node) bool) error {
	return s.reg.WaitFor(ctx, cond)
}

// refreshSSH probes the SSH machines due a probe, waiting up to SyncMax for
// those never probed.
func (s *Service) refreshSSH(ctx context.Context) {
	if s.ssh == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SyncMax)
	defer cancel()
	s.ssh.Refresh(ctx)
}
