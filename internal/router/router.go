// Package router decides where a command runs: it works out what the command
// needs (explicit requirements plus those inferred from the programs it
// invokes), scans the registry's node table once (workers and SSH machines
// alike) to filter the nodes, scores the rest by load, and keeps light work
// local. It tracks its own assignments so that a batch spreads.
package router

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/subjects"
)

// Errors from Route; the wrapped message names what was asked and why each
// node did not qualify.
var (
	ErrNoMatch     = errors.New("no matching node")
	ErrUnknownNode = errors.New("unknown node")
	ErrAllBusy     = errors.New("every matching node is busy")
)

// Thresholds are the local node's offload thresholds (the seed's
// CLUSTER_*_THRESHOLD): above any of them, work other than light commands
// leaves the local node.
type Thresholds struct {
	CPUPercent float64 // default 40
	Load       float64 // load average; default 4
	MemPercent float64 // default 80
}

// DefaultThresholds are the seed system's defaults.
var DefaultThresholds = Thresholds{CPUPercent: 40, Load: 4, MemPercent: 80}

// Request is a command to place.
type Request struct {
	// Task is what to place: its command or argv, and its explicit
	// requirements.
	Task *wire.Task
	// Batch turns local preference off: a batch spreads over the cluster.
	Batch bool
	// Local is the id of the node on the submitter's machine, if any: light
	// work stays there.
	Local string
	// WorkersOnly keeps the task off SSH machines: its submitter leaves
	// before it ends, and only workers record their own results.
	WorkersOnly bool
}

// Skip is a node that was not chosen, and why.
type Skip struct {
	ID  string
	Why string
}

// MaxOrder is how many nodes a Decision lists: the best, then the
// fallbacks the front end tries in turn if the best does not take the task.
const MaxOrder = 8

// maxListed bounds the nodes named in a reason.
const maxListed = 4

// Decision is where a command should run.
type Decision struct {
	// Order lists the best nodes that can take the command now (at most
	// MaxOrder, plus the local node if it qualifies), best first: copies
	// of the registry's nodes as they were when the table was scanned.
	Order []registry.Node
	// Requires is what the command needs: explicit plus inferred.
	Requires wire.Requirements
	// Inferred is what the command itself says.
	Inferred Inference
	// Skipped are the nodes not in Order, with the reason: at most
	// MaxSkipped, sorted by id (a decision does not spend memory in
	// proportion to the cluster).
	Skipped []Skip
	// SkippedTotal is how many nodes were skipped in all.
	SkippedTotal int
	// Reason is a one-line account of the decision, for people.
	Reason string
}

// Config configures a Router.
type Config struct {
	// Thresholds for keeping work local; zero fields take the defaults.
	Thresholds Thresholds
}

// Router places commands. It is safe for concurrent use.
type Router struct {
	cfg Config

	mu       sync.Mutex
	inflight map[string]int // tasks this front end placed and not yet finished, per node
	// rowScratch is inflight by table row during a Route, reused.
	rowScratch []int32

	inferMu sync.Mutex
	// inferred caches Infer by command: agents and batches run the same
	// commands again and again, and parsing is most of a small decision.
	inferred map[string]inferred
}

// inferred is a cached Infer result.
type inferred struct {
	inf Inference
	err error
}

// inferCache bounds the cache; when full it starts over.
const inferCache = 512

// infer is Infer, cached. The result's slices are the caller's own.
func (r *Router) infer(command string) (Inference, error) {
	r.inferMu.Lock()
	c, ok := r.inferred[command]
	r.inferMu.Unlock()
	if !ok {
		c.inf, c.err = Infer(command)
		r.inferMu.Lock()
		if r.inferred == nil || len(r.inferred) >= inferCache {
			r.inferred = make(map[string]inferred, inferCache)
		}
		r.inferred[command] = c
		r.inferMu.Unlock()
	}
	inf := c.inf
	inf.Programs, inf.Capabilities = slices.Clone(inf.Programs), slices.Clone(inf.Capabilities)
	return inf, c.err
}

// New returns a Router.
func New(cfg Config) *Router {
	if cfg.Thresholds.CPUPercent == 0 {
		cfg.Thresholds.CPUPercent = DefaultThresholds.CPUPercent
	}
	if cfg.Thresholds.Load == 0 {
		cfg.Thresholds.Load = DefaultThresholds.Load
	}
	if cfg.Thresholds.MemPercent == 0 {
		cfg.Thresholds.MemPercent = DefaultThresholds.MemPercent
	}
	return &Router{cfg: cfg, inflight: map[string]int{}}
}

// Acquire records that a task was placed on node: its projected load rises
// before its next heartbeat says so. Pair with Release.
func (r *Router) Acquire(node string) {
	r.mu.Lock()
	r.inflight[node]++
	r.mu.Unlock()
}

// Release records that a task placed on node finished.
func (r *Router) Release(node string) {
	r.mu.Lock()
	if r.inflight[node] > 1 {
		r.inflight[node]--
	} else {
		delete(r.inflight, node)
	}
	r.mu.Unlock()
}

// decide works out what req needs: its explicit requirements plus what
// the command itself says, normalised.
func (r *Router) decide(req Request) (*Decision, error) {
	t := req.Task
	d := &Decision{Requires: t.Requires}
	if t.Command != "" {
		inf, err := r.infer(t.Command)
		if err == nil {
			d.Inferred = inf
			d.Requires = merge(t.Requires, inf)
		} else {
			d.Inferred.Class = Normal
		}
	} else if len(t.Argv) > 0 {
		d.Inferred = inferArgv(t.Argv)
		d.Requires = merge(t.Requires, d.Inferred)
	}
	if err := validate(&d.Requires); err != nil {
		return nil, err
	}
	return d, nil
}

// full is the reason a node at its slots is skipped.
func full(running, slots int) string {
	return fmt.Sprintf("full (%d/%d slots)", running, slots)
}

// noneAvailable is the error of a decision with no node to offer the task.
func noneAvailable(d *Decision, matched, available, known int) error {
	switch {
	case available > 0:
		return nil
	case matched > 0:
		return fmt.Errorf("%w (requires %s): %s", ErrAllBusy, d.Requires, skips(d.Skipped, d.SkippedTotal))
	case known == 0:
		return fmt.Errorf("%w (requires %s): no nodes are known; is a node running and connected to the same NATS server?", ErrNoMatch, d.Requires)
	}
	return fmt.Errorf("%w (requires %s): %s", ErrNoMatch, d.Requires, skips(d.Skipped, d.SkippedTotal))
}

// finish puts the local node first if it keeps the work, says why, and
// counts the placement when acquiring. r.mu is held.
func (r *Router) finish(req Request, d *Decision, available int, acquire bool) {
	why, kept := r.preferLocal(req, d)
	d.Reason = reason(d, why, kept, available)
	if acquire {
		r.inflight[d.Order[0].Node]++
	}
}

// preferLocal moves the local node to the front when it should keep the
// work, and says why; kept reports whether it did.
func (r *Router) preferLocal(req Request, d *Decision) (why string, kept bool) {
	if req.Batch || req.Local == "" || d.Requires.Node != "" {
		return "", false
	}
	i := slices.IndexFunc(d.Order, func(n registry.Node) bool { return n.Node == req.Local })
	if i < 0 {
		return "", false
	}
	local := d.Order[i]
	switch {
	case d.Inferred.Class == Light:
		why = "light command stays on the local node"
	case r.underThresholds(&local):
		why = "local node is under its offload thresholds"
	default:
		return fmt.Sprintf("local node %s is over its offload thresholds", local.Node), false
	}
	copy(d.Order[1:i+1], d.Order[:i])
	d.Order[0] = local
	return why, true
}

func (r *Router) underThresholds(c *registry.Node) bool {
	t := r.cfg.Thresholds
	return c.CPUPercent <= t.CPUPercent && c.Load1 <= t.Load && c.MemPercent <= t.MemPercent
}

func reason(d *Decision, localWhy string, keptLocal bool, n int) string {
	var b strings.Builder
	chosen := d.Order[0]
	fmt.Fprintf(&b, "%s on %s", d.Inferred.Class, chosen.Node)
	if chosen.Via == wire.ViaSSH {
		b.WriteString(" (via ssh)")
	}
	if d.Requires.String() != "none" {
		fmt.Fprintf(&b, "; requires %s", d.Requires)
	}
	if localWhy != "" {
		fmt.Fprintf(&b, "; %s", localWhy)
	}
	if n > 1 && !keptLocal {
		var others []string
		for _, c := range d.Order[1:min(len(d.Order), maxListed+1)] {
			others = append(others, fmt.Sprintf("%s (load %.2f)", c.Node, c.Load1))
		}
		if n-1 > len(others) {
			others = append(others, fmt.Sprintf("%d more", n-1-len(others)))
		}
		fmt.Fprintf(&b, "; least loaded of %d (load %.2f, %d/%d running) over %s", n, chosen.Load1, chosen.Running, chosen.Slots, strings.Join(others, ", "))
	}
	if len(d.Skipped) > 0 {
		fmt.Fprintf(&b, "; not chosen: %s", skips(d.Skipped, d.SkippedTotal))
	}
	return b.String()
}

// skips lists the first skipped nodes and counts the rest (total in all,
// of which s lists some).
func skips(s []Skip, total int) string {
	parts := make([]string, 0, min(len(s), maxListed)+1)
	for _, k := range s[:min(len(s), maxListed)] {
		parts = append(parts, k.ID+" "+k.Why)
	}
	if listed := min(len(s), maxListed); total > listed {
		parts = append(parts, fmt.Sprintf("and %d more", total-listed))
	}
	return strings.Join(parts, "; ")
}

// mismatch says why c cannot run a command needing req ("" if it can).
func mismatch(c *registry.Node, req wire.Requirements, workersOnly bool) string {
	if req.Node != "" && c.Node != req.Node {
		return "is not the node asked for"
	}
	if req.OS != "" && c.OS != req.OS {
		return fmt.Sprintf("is %s, not %s", orUnknown(c.OS), req.OS)
	}
	if req.Arch != "" && c.Arch != req.Arch {
		return fmt.Sprintf("is %s, not %s", orUnknown(c.Arch), req.Arch)
	}
	var missing []string
	for _, want := range req.Capabilities {
		if want != subjects.AnyCapability && !slices.Contains(c.Capabilities, want) {
			missing = append(missing, want)
		}
	}
	if len(missing) > 0 {
		return "lacks " + strings.Join(missing, ", ")
	}
	if workersOnly && c.Via != wire.ViaNATS {
		return "is reached over ssh, and a task that outlives its submitter goes to workers only"
	}
	return ""
}

func orUnknown(s string) string {
	if s == "" {
		return "of unknown kind"
	}
	return s
}

// merge adds what the command itself needs to the explicit requirements.
// An explicit OS wins over an inferred one.
func merge(req wire.Requirements, inf Inference) wire.Requirements {
	out := req
	out.Capabilities = slices.Clone(req.Capabilities)
	for _, c := range inf.Capabilities {
		if !slices.Contains(out.Capabilities, c) {
			out.Capabilities = append(out.Capabilities, c)
		}
	}
	if out.OS == "" {
		out.OS = inf.OS
	}
	return out
}

// validate normalises the requirements and rejects invalid tokens.
func validate(r *wire.Requirements) error {
	var err error
	if r.OS != "" {
		if r.OS, err = subjects.NormalizeOS(r.OS); err != nil {
			return fmt.Errorf("requirements: %w", err)
		}
	}
	if r.Arch != "" {
		if r.Arch, err = subjects.NormalizeArch(r.Arch); err != nil {
			return fmt.Errorf("requirements: %w", err)
		}
	}
	for i, c := range r.Capabilities {
		if r.Capabilities[i], err = subjects.NormalizeCapability(c); err != nil {
			return fmt.Errorf("requirements: %w", err)
		}
	}
	if r.Node != "" {
		if err := subjects.ValidToken(r.Node); err != nil {
			return fmt.Errorf("requirements: node: %w", err)
		}
	}
	return nil
}
