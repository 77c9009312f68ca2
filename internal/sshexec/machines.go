package sshexec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/fabric-run/fabric/internal/inventory"
	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/shell"
	"github.com/fabric-run/fabric/internal/wire"
)

// DefaultProbeTTL is how long a probe is trusted (FABRIC_STATUS_TIMEOUT).
const DefaultProbeTTL = 5 * time.Second

// notProbed is the reason of a machine no probe has answered for yet.
const notProbed = "not probed yet"

// MachinesConfig configures Machines.
type MachinesConfig struct {
	// Nodes are the SSH-only machines (the inventory's nodes).
	Nodes []inventory.Node
	// SSH configures the connection pool.
	SSH Config
	// ProbeTTL is how long a probe is trusted (default 5 s).
	ProbeTTL time.Duration
	// Logger receives the machines' log; default discards.
	Logger *slog.Logger
}

// Machines is the part of the cluster a front end reaches over SSH: the
// machines of the inventory that run no worker. It is the front end's SSH
// executor (frontend.Executor): it runs tasks on them through the Pool, one
// connection per machine. It keeps each machine's row in the registry from
// probes of its load, which are trusted for ProbeTTL, refreshed in the
// background once stale, and waited for when a machine was never probed.
// Safe for concurrent use.
type Machines struct {
	cfg   MachinesConfig
	pool  *Pool
	reg   *registry.Registry
	nodes map[string]inventory.Node
	order []string
	log   *slog.Logger

	mu      sync.Mutex
	probes  map[string]*probe
	running map[string]int

	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

// probe is the last look at one machine.
type probe struct {
	load     Load
	caps     []string // detected at the first successful probe; nil until then
	err      error
	at       time.Time
	inflight chan struct{} // non-nil while a probe runs; closed when it ends
}

// NewMachines returns the machines of cfg.Nodes, each a row of reg (not
// probed yet). It dials nothing until asked.
func NewMachines(cfg MachinesConfig, reg *registry.Registry) (*Machines, error) {
	if cfg.ProbeTTL <= 0 {
		cfg.ProbeTTL = DefaultProbeTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SSH.Logger == nil {
		cfg.SSH.Logger = cfg.Logger
	}
	pool, err := New(cfg.SSH)
	if err != nil {
		return nil, fmt.Errorf("ssh nodes: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Machines{
		cfg: cfg, pool: pool, reg: reg, nodes: map[string]inventory.Node{}, log: cfg.Logger,
		probes: map[string]*probe{}, running: map[string]int{}, ctx: ctx, cancel: cancel,
	}
	for _, n := range cfg.Nodes {
		m.nodes[n.Name] = n
		m.order = append(m.order, n.Name)
	}
	m.mu.Lock()
	for _, name := range m.order {
		m.publishLocked(name)
	}
	m.mu.Unlock()
	return m, nil
}

// Close stops probing and closes every connection, cancelling the tasks
// running over them. Safe to call twice.
func (m *Machines) Close() error {
	m.cancel()
	m.wg.Wait()
	return m.pool.Close()
}

// Refresh starts probes of the machines whose probe is older than the TTL,
// in the background, and waits, up to ctx, for those never probed: a front
// end calls it before it routes or lists the nodes.
func (m *Machines) Refresh(ctx context.Context) {
	var first []chan struct{}
	for _, name := range m.order {
		if ch, never := m.startProbe(name); ch != nil && never {
			first = append(first, ch)
		}
	}
	for _, ch := range first {
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// startProbe starts probing name unless a fresh probe exists (or one runs).
// It returns the channel closed when the running probe ends, nil if none,
// and whether name has never been probed.
func (m *Machines) startProbe(name string) (done chan struct{}, never bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.probes[name]
	if p == nil {
		p = &probe{}
		m.probes[name] = p
	}
	never = p.at.IsZero()
	if p.inflight != nil {
		return p.inflight, never
	}
	if !never && time.Since(p.at) < m.cfg.ProbeTTL {
		return nil, false
	}
	if m.ctx.Err() != nil {
		return nil, never // closed: no more probes
	}
	done = make(chan struct{})
	p.inflight = done
	m.wg.Add(1)
	go m.probe(name, done)
	return done, never
}

func (m *Machines) probe(name string, done chan struct{}) {
	defer m.wg.Done()
	defer close(done)
	h := HostFromNode(m.nodes[name])
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.ProbeTTL+m.cfg.SSH.ConnectTimeout*time.Duration(m.cfg.SSH.Retries+1))
	defer cancel()
	load, err := m.pool.Probe(ctx, h)
	var detected []string
	if err == nil && m.needCaps(name) {
		detected = m.detectCaps(ctx, h)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.probes[name]
	p.inflight = nil
	p.at = time.Now()
	p.err = err
	if err == nil {
		p.load = load
		if detected != nil {
			p.caps = detected
		}
	} else {
		m.log.Warn("ssh node unreachable", "node", name, "err", err)
	}
	m.publishLocked(name)
}

func (m *Machines) needCaps(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.probes[name].caps == nil
}

// detectCaps looks for the programs fabric knows on the machine's PATH, as
// a worker does on its own.
func (m *Machines) detectCaps(ctx context.Context, h Host) []string {
	var script strings.Builder
	script.WriteString("for p in")
	for _, prog := range shell.CapabilityPrograms() {
		script.WriteString(" '" + prog + "'")
	}
	script.WriteString("; do command -v \"$p\" >/dev/null 2>&1 && echo \"$p\"; done; true")
	res, err := m.pool.Run(ctx, h, &wire.Task{ID: wire.NewTaskID(), Command: script.String(), Timeout: wire.Duration(10 * time.Second)}, nil)
	if err != nil || res.Error != wire.ErrNone {
		return []string{}
	}
	found := map[string]bool{}
	for _, prog := range strings.Fields(res.Stdout) {
		found[prog] = true
	}
	detected := shell.DetectCapabilities(func(p string) (string, error) {
		if found[p] {
			return p, nil
		}
		return "", errors.New("not found")
	})
	if detected == nil {
		detected = []string{} // detected: none (nil means not yet)
	}
	return detected
}

// publishLocked writes machine name's row into the registry: what the
// inventory says of it (its os and arch win over the probe's), its last
// probe, and how many tasks this front end runs there. m.mu is held.
func (m *Machines) publishLocked(name string) {
	n := m.nodes[name]
	row := registry.Node{
		Heartbeat: wire.Heartbeat{Node: name, Hostname: n.Host, OS: n.OS, Arch: n.Arch, Slots: n.Slots, Running: m.running[name]},
		Via:       wire.ViaSSH,
	}
	p := m.probes[name]
	if p == nil || p.at.IsZero() {
		row.Capabilities, _ = shell.MergeCapabilities(n.Capabilities)
		row.Reason = notProbed
		m.reg.Probed(row)
		return
	}
	l := p.load
	row.Capabilities, _ = shell.MergeCapabilities(n.Capabilities, p.caps)
	row.CPUPercent, row.MemPercent, row.CPUs = l.CPUPercent, l.MemPercent, l.CPUs
	row.Load1, row.Load5, row.Load15 = l.Load1, l.Load5, l.Load15
	if row.OS == "" {
		row.OS = l.OS
	}
	if row.Arch == "" {
		row.Arch = l.Arch
	}
	row.Seen = p.at
	if p.err != nil {
		row.Reason = p.err.Error()
	}
	m.reg.Probed(row)
}

// Execute runs task on the SSH machine node and returns its result: it is
// the SSH executor of frontend.Executor. The error is a *wire.Declined (it
// is wire.ErrNotStarted) when the task never started there (unreachable,
// refused a session ...): the caller may try another node. Once the command
// started, every outcome is in the Result (h.OnAccepted was called first);
// h.Detach does not apply (a task over SSH lives as long as this process).
func (m *Machines) Execute(ctx context.Context, task *wire.Task, node *registry.Node, h wire.Hooks) (*wire.Result, error) {
	name := node.Node
	n, ok := m.nodes[name]
	if !ok {
		return nil, &wire.Declined{Node: name, Reason: "not an SSH machine of the inventory"}
	}
	m.count(name, 1)
	defer m.count(name, -1)
	// Accepted once the command started, and before any output: output
	// that overtakes the start (login chatter) waits for it.
	var once sync.Once
	started := func() {
		once.Do(func() {
			if h.OnAccepted != nil {
				h.OnAccepted("")
			}
		})
	}
	var output wire.OutputFunc
	if h.OnOutput != nil {
		output = func(s wire.Stream, p []byte) {
			started()
			h.OnOutput(s, p)
		}
	}
	res, err := m.pool.run(ctx, HostFromNode(n), task, output, started)
	if err != nil {
		m.mu.Lock()
		if p := m.probes[name]; p != nil { // seen unreachable: say so until the next probe
			p.err, p.at = err, time.Now()
			m.publishLocked(name)
		}
		m.mu.Unlock()
		return nil, &wire.Declined{Node: name, Reason: err.Error(), Err: err}
	}
	return res, nil
}

// count adds delta to the tasks running on machine name, in its row.
func (m *Machines) count(name string, delta int) {
	m.mu.Lock()
	m.running[name] += delta
	running := m.running[name]
	m.mu.Unlock()
	m.reg.SetRunning(name, running)
}
