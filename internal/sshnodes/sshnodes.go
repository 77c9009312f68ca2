// Package sshnodes is the part of the cluster a front end reaches over SSH:
// the machines of the inventory that run no worker. It keeps a probe of each
// one's load (cached for a TTL, refreshed in the background once stale),
// offers them to the router as candidates, and runs tasks on them through a
// pooled SSH connection per host.
package sshnodes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/fabric-run/fabric/internal/inventory"
	"github.com/fabric-run/fabric/internal/router"
	"github.com/fabric-run/fabric/internal/shell"
	"github.com/fabric-run/fabric/internal/sshexec"
	"github.com/fabric-run/fabric/internal/wire"
)

// DefaultProbeTTL is how long a probe is trusted (FABRIC_STATUS_TIMEOUT).
const DefaultProbeTTL = 5 * time.Second

// ErrUnknownNode is returned by Run for a name the inventory does not hold.
var ErrUnknownNode = errors.New("not an SSH node of the inventory")

// Config configures a Cluster.
type Config struct {
	// Nodes are the SSH-only machines (the inventory's nodes).
	Nodes []inventory.Node
	// SSH configures the connection pool.
	SSH sshexec.Config
	// ProbeTTL is how long a probe is trusted (default 5 s).
	ProbeTTL time.Duration
	// Logger receives the cluster's log; default discards.
	Logger *slog.Logger
}

// Cluster is the SSH-only part of the cluster. Safe for concurrent use.
type Cluster struct {
	cfg   Config
	pool  *sshexec.Pool
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
	load     sshexec.Load
	caps     []string // detected at the first successful probe; nil until then
	err      error
	at       time.Time
	inflight chan struct{} // non-nil while a probe runs; closed when it ends
}

// New returns a Cluster over cfg.Nodes. It dials nothing until asked.
func New(cfg Config) (*Cluster, error) {
	if cfg.ProbeTTL <= 0 {
		cfg.ProbeTTL = DefaultProbeTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SSH.Logger == nil {
		cfg.SSH.Logger = cfg.Logger
	}
	pool, err := sshexec.New(cfg.SSH)
	if err != nil {
		return nil, fmt.Errorf("ssh nodes: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cluster{
		cfg: cfg, pool: pool, nodes: map[string]inventory.Node{}, log: cfg.Logger,
		probes: map[string]*probe{}, running: map[string]int{}, ctx: ctx, cancel: cancel,
	}
	for _, n := range cfg.Nodes {
		c.nodes[n.Name] = n
		c.order = append(c.order, n.Name)
	}
	return c, nil
}

// Close stops probing and closes every connection, cancelling running tasks.
func (c *Cluster) Close() error {
	c.cancel()
	c.wg.Wait()
	return c.pool.Close()
}

// startProbe starts probing name unless a fresh probe exists (or one runs).
// It returns the channel closed when the running probe ends, nil if none,
// and whether name has never been probed.
func (c *Cluster) startProbe(name string) (done chan struct{}, never bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.probes[name]
	if p == nil {
		p = &probe{}
		c.probes[name] = p
	}
	never = p.at.IsZero()
	if p.inflight != nil {
		return p.inflight, never
	}
	if !never && time.Since(p.at) < c.cfg.ProbeTTL {
		return nil, false
	}
	done = make(chan struct{})
	p.inflight = done
	c.wg.Add(1)
	go c.probe(name, done)
	return done, never
}

func (c *Cluster) probe(name string, done chan struct{}) {
	defer c.wg.Done()
	defer close(done)
	n := c.nodes[name]
	h := sshexec.HostFromNode(n)
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.ProbeTTL+c.cfg.SSH.ConnectTimeout*time.Duration(c.cfg.SSH.Retries+1))
	defer cancel()
	load, err := c.pool.Probe(ctx, h)
	var detected []string
	if err == nil && c.needCaps(name) {
		detected = c.detectCaps(ctx, h)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.probes[name]
	p.inflight = nil
	p.at = time.Now()
	p.err = err
	if err == nil {
		p.load = load
		if detected != nil {
			p.caps = detected
		}
	} else {
		c.log.Warn("ssh node unreachable", "node", name, "err", err)
	}
}

func (c *Cluster) needCaps(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.probes[name].caps == nil
}

// detectCaps looks for the programs fabric knows on the machine's PATH, as
// a worker does on its own.
func (c *Cluster) detectCaps(ctx context.Context, h sshexec.Host) []string {
	var script strings.Builder
	script.WriteString("for p in")
	for _, prog := range shell.CapabilityPrograms() {
		script.WriteString(" '" + prog + "'")
	}
	script.WriteString("; do command -v \"$p\" >/dev/null 2>&1 && echo \"$p\"; done; true")
	res, err := c.pool.Run(ctx, h, &wire.Task{ID: wire.NewTaskID(), Command: script.String(), Timeout: wire.Duration(10 * time.Second)}, nil)
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

// Info is what a status view shows of an SSH node.
type Info struct {
	Node      inventory.Node
	Load      sshexec.Load
	Caps      []string // inventory's, detected ones and "any"
	Probed    time.Time
	Reachable bool
	Reason    string // why not reachable
	Running   int
}

// Infos returns every node's last probe, starting probes of stale ones in
// the background (and waiting, up to ctx, for nodes never probed).
func (c *Cluster) Infos(ctx context.Context) []Info {
	var first []chan struct{}
	for _, name := range c.order {
		if ch, never := c.startProbe(name); ch != nil && never {
			first = append(first, ch)
		}
	}
	for _, ch := range first {
		select {
		case <-ch:
		case <-ctx.Done():
		}
	}
	out := make([]Info, 0, len(c.order))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, name := range c.order {
		n := c.nodes[name]
		p := c.probes[name]
		info := Info{Node: n, Running: c.running[name]}
		if p != nil && !p.at.IsZero() {
			info.Load, info.Probed = p.load, p.at
			info.Reachable = p.err == nil
			if p.err != nil {
				info.Reason = p.err.Error()
			}
			info.Caps, _ = shell.MergeCapabilities(n.Capabilities, p.caps)
		} else {
			info.Reason = "not probed yet"
			info.Caps, _ = shell.MergeCapabilities(n.Capabilities)
		}
		out = append(out, info)
	}
	return out
}

// Candidates returns the nodes as router candidates (see Infos).
func (c *Cluster) Candidates(ctx context.Context) []router.Candidate {
	infos := c.Infos(ctx)
	out := make([]router.Candidate, 0, len(infos))
	for _, in := range infos {
		out = append(out, Candidate(in))
	}
	return out
}

// Candidate turns an Info into a router candidate. The inventory's os and
// arch win over the probe's.
func Candidate(in Info) router.Candidate {
	osName, arch := in.Node.OS, in.Node.Arch
	if osName == "" {
		osName = in.Load.OS
	}
	if arch == "" {
		arch = in.Load.Arch
	}
	c := router.Candidate{
		ID: in.Node.Name, OS: osName, Arch: arch, Capabilities: in.Caps, Via: router.ViaSSH,
		Ready: in.Reachable, CPUPercent: in.Load.CPUPercent, MemPercent: in.Load.MemPercent,
		Load1: in.Load.Load1, CPUs: in.Load.CPUs, Running: in.Running, Slots: in.Node.Slots,
	}
	if !in.Reachable {
		c.NotReady = "is unreachable over ssh: " + in.Reason
	}
	return c
}

// Run runs task on SSH node name. The error is non-nil only when the task
// never started there (unreachable, refused): the caller may try another
// node; everything else is in the Result.
func (c *Cluster) Run(ctx context.Context, name string, task *wire.Task, onOutput func(wire.Stream, []byte)) (*wire.Result, error) {
	n, ok := c.nodes[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownNode, name)
	}
	c.mu.Lock()
	c.running[name]++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.running[name]--
		c.mu.Unlock()
	}()
	res, err := c.pool.Run(ctx, sshexec.HostFromNode(n), task, onOutput)
	if err != nil {
		c.mu.Lock()
		if p := c.probes[name]; p != nil { // seen unreachable: say so until the next probe
			p.err, p.at = err, time.Now()
		}
		c.mu.Unlock()
		return nil, err
	}
	return res, nil
}
