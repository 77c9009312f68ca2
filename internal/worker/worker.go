// Package worker is a fabric node: it subscribes to the task subjects of its
// OS, architecture and capabilities, runs the commands it receives in process
// groups of their own, streams their output back, answers pings, takes
// cancellations, and publishes heartbeats with its load.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/nats-io/nuid"

	"github.com/fabric-run/fabric/internal/locks"
	"github.com/fabric-run/fabric/internal/runner"
	"github.com/fabric-run/fabric/internal/shell"
	"github.com/fabric-run/fabric/internal/signing"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/subjects"
)

// Defaults for Config fields left zero.
const (
	DefaultHeartbeatInterval = 2 * time.Second
	DefaultTimeout           = wire.DefaultTimeout // the one every part of fabric applies
	DefaultDrainGrace        = 30 * time.Second
	DefaultMaxTaskBytes      = 1 << 20
	DefaultFlowWindow        = 1 << 20
	DefaultFlowTimeout       = 30 * time.Second
)

// flushTimeout bounds the final flush of a stopping node.
const flushTimeout = 2 * time.Second

// DirectCheckDelay is how long after its start a node checks its shell for
// the direct path: out of the way of start-up and of one-shot runs.
const DirectCheckDelay = time.Second

// ServiceName is the NATS micro service name every node registers under, so
// `nats micro ls` lists the nodes.
const ServiceName = "fabric-node"

// Config configures a Worker. Zero fields take the defaults named.
type Config struct {
	// Name is the node id; default subjects.Token(hostname).
	Name string
	// Hostname is reported in heartbeats; default os.Hostname().
	Hostname string
	// OS and Arch are what the node reports and subscribes as; default
	// runtime.GOOS and runtime.GOARCH. Tests and demos may override them.
	OS, Arch string
	// Capabilities are added to those detected on PATH.
	Capabilities []string
	// NoDetect turns capability detection off: only Capabilities (and
	// "any"), and no GPUs unless GPUs says how many.
	NoDetect bool
	// Slots is how many tasks run at once; beyond them the node answers busy.
	// Default: the CPU count.
	Slots int
	// HeartbeatInterval is the time between heartbeats (default 2 s). A
	// negative interval disables the loop: call PublishHeartbeat by hand.
	HeartbeatInterval time.Duration
	// DefaultTimeout applies to tasks that carry none (default 300 s).
	DefaultTimeout time.Duration
	// OutputLimit is the bytes kept of each stream (default 1 MiB), lowered
	// if needed so a result fits the server's max payload.
	OutputLimit int
	// MaxTaskBytes refuses larger task messages (default 1 MiB).
	MaxTaskBytes int
	// DrainGrace is how long Drain lets running tasks finish (default 30 s).
	DrainGrace time.Duration
	// FlowWindow is how many output bytes may be in flight to a front end
	// before the node waits for it to catch up (default 1 MiB).
	FlowWindow int
	// FlowTimeout is how long the node waits for a front end to catch up
	// before it stops streaming that task's output (default 30 s).
	FlowTimeout time.Duration
	// Shell runs commands; default bash if on PATH, else sh.
	Shell string
	// ShellOnly runs every command under Shell. By default a node checks,
	// DirectCheckDelay after it starts, that running a simple command
	// directly gives exactly what its shell gives (runner.DirectCheck),
	// and from then on runs such commands without the shell.
	ShellOnly bool
	// Dir is the working directory of tasks that name none; default the
	// user's home directory.
	Dir string
	// Subjects is the subject space; default subjects.Default().
	Subjects *subjects.Space
	// Load samples the machine's load; default SystemLoad{}.
	Load LoadSource
	// Check, if set, vets every task before it runs (the command guard); a
	// non-nil error refuses the task with its text.
	Check func(*wire.Task) error
	// Verifier, if set, makes the node run only tasks signed by a trusted
	// key, within the signing window, and never the same task id twice.
	Verifier *signing.Verifier
	// Version is reported in heartbeats and the micro service (semver).
	Version string
	// Logger receives the node's log; default discards.
	Logger *slog.Logger

	// GPUs is how many GPU devices the node hands to tasks, one task per
	// device (CUDA_VISIBLE_DEVICES), numbered from 0. Zero counts them
	// with `nvidia-smi -L` (none without nvidia-smi); negative means none.
	GPUs int
	// Limits caps, per capability, how many tasks needing it run at once
	// on this node ({docker: 1}); a task beyond them is answered busy.
	Limits map[string]int
	// Needs, if set, names capabilities a task needs beyond its
	// requirements (those its command invokes), for Limits and GPUs.
	Needs func(*wire.Task) []string
	// Locks is where the node takes the cluster-wide locks tasks ask for;
	// default: the hub's lock bucket, opened when a task first asks, with
	// a lease of locks.LeaseFor(HeartbeatInterval).
	Locks *locks.Store
	// MaxWaiting bounds the tasks waiting for locks at once (they take
	// no slot while they wait); beyond it the node answers busy.
	// Default DefaultMaxWaiting.
	MaxWaiting int
}

// DefaultMaxWaiting is how many tasks may wait for locks on a node at once
// unless configured.
const DefaultMaxWaiting = 256

// Worker is a running node. Create with New, then Start; stop with Drain or
// Close.
type Worker struct {
	cfg      Config
	nc       *nats.Conn
	subj     subjects.Space
	caps     []string
	instance string
	log      *slog.Logger

	mu    sync.Mutex
	state string
	// running holds every admitted task: waiting for its locks, or
	// started (holding resources).
	running map[string]*job
	res     *resources
	// lockWaiters counts the admitted tasks waiting for their locks.
	lockWaiters int
	// lockStore is cfg.Locks, or the store opened on first use.
	lockStore *locks.Store
	// tombstones are cancels that arrived for tasks not (yet) running,
	// by task id and offer ("" for a cancel of every offer).
	tombstones map[tombstone]time.Time
	sample     LoadSample
	svc        micro.Service
	draining   bool

	ctx      context.Context // cancelled by Close: ends the heartbeat loop
	cancel   context.CancelFunc
	jobs     sync.WaitGroup // running tasks
	loops    sync.WaitGroup // heartbeat loop, direct check
	direct   atomic.Bool    // simple commands run without the shell
	kick     chan struct{}  // publish a heartbeat now
	idle     chan struct{}  // signalled when a task finishes
	stopOnce sync.Once
}

// job is a task being run.
type job struct {
	task   *wire.Task
	offer  string // the front end's offer the task came in (wire.HeaderOffer)
	ctx    context.Context
	cancel context.CancelCauseFunc
	locks  []locks.Spec // to take before it starts, in name order
	need   need
	// grant is what it holds once started; w.mu guards these three.
	grant    grant
	started  bool
	released bool
	// leases are its locks, held while it runs (its goroutine's alone).
	leases []*locks.Lease
}

// New validates cfg, applies defaults and returns a Worker that will use nc.
func New(nc *nats.Conn, cfg Config) (*Worker, error) {
	if nc == nil {
		return nil, errors.New("worker: no NATS connection")
	}
	if err := cfg.fill(); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	var detected []string
	if !cfg.NoDetect {
		detected = shell.DetectCapabilities(nil)
	}
	all, err := shell.MergeCapabilities(detected, cfg.Capabilities)
	if err != nil {
		return nil, fmt.Errorf("worker: capabilities: %w", err)
	}
	if err := validLimits(cfg.Limits); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	gpus, err := gpuDevices(cfg.GPUs, cfg.NoDetect)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	if len(gpus) > 0 && !slices.Contains(all, gpuCapability) {
		if all, err = shell.MergeCapabilities(all, []string{gpuCapability}); err != nil {
			return nil, fmt.Errorf("worker: capabilities: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Worker{
		cfg:        cfg,
		nc:         nc,
		subj:       *cfg.Subjects,
		caps:       all,
		instance:   nuid.Next(),
		log:        cfg.Logger.With("node", cfg.Name),
		state:      wire.StateReady,
		running:    map[string]*job{},
		res:        newResources(cfg.Slots, gpus, cfg.Limits),
		lockStore:  cfg.Locks,
		tombstones: map[tombstone]time.Time{},
		ctx:        ctx,
		cancel:     cancel,
		kick:       make(chan struct{}, 1),
		idle:       make(chan struct{}, 1),
	}
	w.sample = cfg.Load.Sample()
	return w, nil
}

func (c *Config) fill() error {
	if c.Hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("hostname: %w", err)
		}
		c.Hostname = h
	}
	if c.Name == "" {
		c.Name = subjects.Token(c.Hostname)
	}
	if err := subjects.ValidToken(c.Name); err != nil {
		return fmt.Errorf("node name: %w", err)
	}
	var err error
	if c.OS == "" {
		c.OS = runtime.GOOS
	}
	if c.OS, err = subjects.NormalizeOS(c.OS); err != nil {
		return err
	}
	if c.Arch == "" {
		c.Arch = runtime.GOARCH
	}
	if c.Arch, err = subjects.NormalizeArch(c.Arch); err != nil {
		return err
	}
	if c.Slots == 0 {
		c.Slots = runtime.NumCPU()
	}
	if c.Slots < 0 {
		return fmt.Errorf("slots %d: must be at least 1", c.Slots)
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.DefaultTimeout <= 0 {
		c.DefaultTimeout = DefaultTimeout
	}
	if c.OutputLimit <= 0 {
		c.OutputLimit = wire.DefaultOutputLimit
	}
	if c.MaxTaskBytes <= 0 {
		c.MaxTaskBytes = DefaultMaxTaskBytes
	}
	if c.DrainGrace == 0 {
		c.DrainGrace = DefaultDrainGrace
	}
	if c.FlowWindow <= 0 {
		c.FlowWindow = DefaultFlowWindow
	}
	if c.FlowTimeout <= 0 {
		c.FlowTimeout = DefaultFlowTimeout
	}
	if c.Shell == "" {
		c.Shell = runner.DefaultShell()
	}
	if c.Dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			c.Dir = home
		}
	}
	if c.Subjects == nil {
		s := subjects.Default()
		c.Subjects = &s
	}
	if c.Load == nil {
		c.Load = SystemLoad{}
	}
	if c.Version == "" {
		c.Version = "0.0.0-dev"
	}
	if c.MaxWaiting <= 0 {
		c.MaxWaiting = DefaultMaxWaiting
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// ID returns the node id.
func (w *Worker) ID() string { return w.cfg.Name }

// Capabilities returns the node's capabilities, "any" included.
func (w *Worker) Capabilities() []string { return append([]string(nil), w.caps...) }

// Start subscribes to the node's subjects, registers the micro service,
// publishes a first heartbeat and starts the heartbeat loop. When connected,
// it returns once the server has the subscriptions.
func (w *Worker) Start() error {
	svc, err := micro.AddService(w.nc, micro.Config{
		Name:        ServiceName,
		Version:     w.cfg.Version,
		Description: "fabric worker node " + w.cfg.Name,
		QueueGroup:  subjects.QueueGroup,
		Metadata: map[string]string{
			"node":         w.cfg.Name,
			"hostname":     w.cfg.Hostname,
			"os":           w.cfg.OS,
			"arch":         w.cfg.Arch,
			"capabilities": strings.Join(w.caps, ","),
			"slots":        fmt.Sprint(w.cfg.Slots),
		},
	})
	if err != nil {
		return fmt.Errorf("worker %s: register service: %w", w.cfg.Name, err)
	}
	w.mu.Lock()
	w.svc = svc
	w.mu.Unlock()
	if err := w.addEndpoints(svc); err != nil {
		_ = svc.Stop()
		return fmt.Errorf("worker %s: %w", w.cfg.Name, err)
	}
	// Make the subscriptions live at the server before saying we started.
	if w.nc.IsConnected() {
		if err := w.nc.FlushTimeout(flushTimeout); err != nil {
			_ = svc.Stop()
			return fmt.Errorf("worker %s: subscribe: %w", w.cfg.Name, err)
		}
	}
	prev := w.nc.Opts.ReconnectedCB
	w.nc.SetReconnectHandler(func(nc *nats.Conn) {
		if prev != nil {
			prev(nc)
		}
		w.Kick()
	})
	if err := w.PublishHeartbeat(); err != nil {
		w.log.Warn("first heartbeat", "err", err)
	}
	if w.cfg.HeartbeatInterval > 0 {
		w.loops.Add(1)
		go w.heartbeatLoop()
	}
	if !w.cfg.ShellOnly {
		w.loops.Go(w.checkDirect)
	}
	w.log.Info("node started", "os", w.cfg.OS, "arch", w.cfg.Arch, "capabilities", w.caps, "slots", w.cfg.Slots,
		"gpus", len(w.res.gpus), "limits", w.cfg.Limits, "locks", w.cfg.Locks != nil)
	return nil
}

// addEndpoints subscribes, for each capability, to the node's own task
// subject and to the shared queue subject, plus ping and cancel.
func (w *Worker) addEndpoints(svc micro.Service) error {
	taskHandler := micro.HandlerFunc(w.handleTask)
	for _, c := range w.caps {
		direct, err := w.subj.Task(w.cfg.OS, w.cfg.Arch, c, w.cfg.Name)
		if err != nil {
			return err
		}
		shared, err := w.subj.TaskAny(w.cfg.OS, w.cfg.Arch, c)
		if err != nil {
			return err
		}
		if err := svc.AddEndpoint("task-"+c, taskHandler, micro.WithEndpointSubject(direct),
			micro.WithEndpointMetadata(map[string]string{"capability": c, "addressed": "node"})); err != nil {
			return fmt.Errorf("subscribe %s: %w", direct, err)
		}
		if err := svc.AddEndpoint("any-"+c, taskHandler, micro.WithEndpointSubject(shared),
			micro.WithEndpointMetadata(map[string]string{"capability": c, "addressed": "any"})); err != nil {
			return fmt.Errorf("subscribe %s: %w", shared, err)
		}
	}
	cancelSubj, err := w.subj.Cancel(w.cfg.Name)
	if err != nil {
		return err
	}
	if err := svc.AddEndpoint("cancel", micro.HandlerFunc(w.handleCancel),
		micro.WithEndpointSubject(cancelSubj), micro.WithEndpointQueueGroupDisabled()); err != nil {
		return fmt.Errorf("subscribe %s: %w", cancelSubj, err)
	}
	if err := svc.AddEndpoint("ping", micro.HandlerFunc(w.handlePing),
		micro.WithEndpointSubject(w.subj.Ping()), micro.WithEndpointQueueGroupDisabled()); err != nil {
		return fmt.Errorf("subscribe %s: %w", w.subj.Ping(), err)
	}
	return nil
}

// Drain stops taking work, lets running tasks finish until ctx ends or the
// drain grace passes (then cancels what is left), publishes a final
// "leaving" heartbeat and unsubscribes. The connection stays open.
func (w *Worker) Drain(ctx context.Context) error {
	w.mu.Lock()
	if w.draining {
		w.mu.Unlock()
		return nil
	}
	w.draining = true
	w.state = wire.StateDraining
	n := len(w.running)
	for _, j := range w.running {
		if !j.started { // still waiting for its locks: it never runs here
			j.cancel(errNotStarted)
		}
	}
	w.mu.Unlock()
	w.log.Info("draining", "running", n)
	if err := w.PublishHeartbeat(); err != nil {
		w.log.Warn("draining heartbeat", "err", err)
	}
	if w.cfg.DrainGrace > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.cfg.DrainGrace)
		defer cancel()
	}
	w.waitIdle(ctx)
	w.cancelAll(errors.New("node shutting down"))
	w.jobs.Wait()
	return w.stop()
}

// Close cancels running tasks at once and leaves, as Drain with no grace.
// Safe to call more than once.
func (w *Worker) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return w.Drain(ctx)
}

func (w *Worker) waitIdle(ctx context.Context) {
	for {
		w.mu.Lock()
		n := len(w.running)
		w.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-w.idle:
		case <-ctx.Done():
			return
		}
	}
}

func (w *Worker) cancelAll(cause error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, j := range w.running {
		j.cancel(cause)
	}
}

func (w *Worker) stop() error {
	var err error
	w.stopOnce.Do(func() {
		w.mu.Lock()
		w.state = wire.StateLeaving
		svc := w.svc
		w.mu.Unlock()
		w.cancel()
		w.loops.Wait()
		if e := w.PublishHeartbeat(); e != nil && !errors.Is(e, nats.ErrConnectionClosed) {
			w.log.Warn("leaving heartbeat", "err", e)
		}
		if svc != nil {
			if e := svc.Stop(); e != nil && !errors.Is(e, nats.ErrConnectionClosed) {
				err = fmt.Errorf("worker %s: stop service: %w", w.cfg.Name, e)
			}
		}
		if w.nc.IsConnected() {
			if e := w.nc.FlushTimeout(flushTimeout); e != nil && err == nil {
				err = fmt.Errorf("worker %s: flush: %w", w.cfg.Name, e)
			}
		}
		w.log.Info("node left")
	})
	return err
}

// Direct reports whether simple commands run without the shell (the
// check passed).
func (w *Worker) Direct() bool { return w.direct.Load() }

// checkDirect turns the direct path on if the shell passes
// runner.DirectCheck, DirectCheckDelay after start unless the node stops
// first.
func (w *Worker) checkDirect() {
	t := time.NewTimer(DirectCheckDelay)
	defer t.Stop()
	select {
	case <-w.ctx.Done():
		return
	case <-t.C:
	}
	if err := runner.DirectCheck(w.cfg.Shell); err != nil {
		w.log.Debug("simple commands run under the shell", "shell", w.cfg.Shell, "why", err)
		return
	}
	w.direct.Store(true)
	w.log.Debug("simple commands run directly, exactly as the shell would", "shell", w.cfg.Shell)
}
