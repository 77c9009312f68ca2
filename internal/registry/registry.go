// Package registry is a front end's live table of the cluster's nodes: the
// workers, kept from their heartbeats, and the SSH machines of the
// inventory that run none, kept from their probes (sshexec). Which nodes
// exist, what they are, how loaded, whether they are alive, and how each is
// reached. Its Table is the one representation of a node: the router scans
// its rows, and status views render its Nodes.
package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/subjects"
)

// Defaults for Config fields left zero.
const (
	// DefaultInterval is assumed for a node whose heartbeat names none.
	DefaultInterval = 2 * time.Second
	// DefaultStaleIntervals is how many missed heartbeats make a node stale.
	DefaultStaleIntervals = 3
	// DefaultGoneAfter is how long a silent node stays listed (as stale).
	DefaultGoneAfter = 2 * time.Minute
)

// Health is a node's liveness as a front end sees it.
type Health string

// The healths. Only HealthReady nodes take new work.
const (
	HealthReady    Health = "ready"
	HealthDraining Health = "draining" // shutting down, finishing its tasks
	HealthLeaving  Health = "leaving"  // said goodbye
	HealthStale    Health = "stale"    // missed DefaultStaleIntervals heartbeats
	// HealthUnreachable is an SSH machine that did not answer its last
	// probe, or was never probed; Node.Reason says why.
	HealthUnreachable Health = "unreachable"
)

// Node is what the registry knows of one node: a worker's last heartbeat,
// or an SSH machine's last probe in the same terms.
type Node struct {
	wire.Heartbeat
	// Via says how the node is reached: wire.ViaNATS for a worker,
	// wire.ViaSSH for a machine of the inventory that runs none.
	Via string
	// Seen is when the last heartbeat arrived, or the last probe answered
	// (front end's clock; zero for an SSH machine never probed).
	Seen time.Time
	// Health is computed at snapshot time.
	Health Health
	// Reason says why an SSH machine is unreachable.
	Reason string
	// ClockOffset is how far the node's clock is ahead of this front end's
	// (negative: behind), estimated from its recent heartbeats; zero when
	// they carry no time. A deadline sent to the node is shifted by it.
	ClockOffset time.Duration
}

// Config configures a Registry.
type Config struct {
	// Subjects is the subject space; default subjects.Default().
	Subjects *subjects.Space
	// StaleIntervals is how many heartbeat intervals of silence make a node
	// stale (default 3).
	StaleIntervals int
	// GoneAfter is how long a silent node is kept before it is forgotten
	// (default 2 min).
	GoneAfter time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives the registry's log; default discards.
	Logger *slog.Logger
}

// Registry tracks nodes from heartbeats. It is safe for concurrent use.
type Registry struct {
	cfg  Config
	nc   *nats.Conn
	subj subjects.Space
	log  *slog.Logger

	mu  sync.RWMutex
	tab *Table
	// machines are the SSH machines by name, as last probed: a machine a
	// worker stands for has no row of its own, and gets it back should the
	// worker be forgotten.
	machines map[string]*Node
	// watchers are the WatchLost registrations, by node.
	watchers map[string]map[*watch]struct{}
	changed  chan struct{} // closed and replaced on a change once taken
	// taken says Changed handed out the current channel: only then does a
	// change need a new one (no allocation per heartbeat otherwise).
	taken atomic.Bool

	sub    *nats.Subscription
	cancel context.CancelFunc
	loops  sync.WaitGroup
	once   sync.Once
}

// New returns a Registry reading heartbeats over nc (nil: fed by hand with
// Observe, for tests and in-process use).
func New(nc *nats.Conn, cfg Config) *Registry {
	if cfg.Subjects == nil {
		s := subjects.Default()
		cfg.Subjects = &s
	}
	if cfg.StaleIntervals <= 0 {
		cfg.StaleIntervals = DefaultStaleIntervals
	}
	if cfg.GoneAfter <= 0 {
		cfg.GoneAfter = DefaultGoneAfter
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Registry{
		cfg:      cfg,
		nc:       nc,
		subj:     *cfg.Subjects,
		log:      cfg.Logger,
		tab:      NewTable(),
		machines: map[string]*Node{},
		watchers: map[string]map[*watch]struct{}{},
		changed:  make(chan struct{}),
	}
}

// Start subscribes to every node's heartbeats and starts the loop that
// notices silent nodes.
func (r *Registry) Start() error {
	if r.nc == nil {
		return errors.New("registry: no NATS connection")
	}
	sub, err := r.nc.Subscribe(r.subj.AllHeartbeats(), r.onMsg)
	if err != nil {
		return fmt.Errorf("registry: subscribe heartbeats: %w", err)
	}
	// A front end in a large cluster must not drop heartbeats.
	if err := sub.SetPendingLimits(1<<20, 256<<20); err != nil {
		return fmt.Errorf("registry: pending limits: %w", err)
	}
	r.sub = sub
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.loops.Add(1)
	go r.reaper(ctx)
	return nil
}

// Sync pings every node and takes in the answers until quiet passes with no
// new one, or ctx ends. It returns how many nodes answered. A front end calls
// it once at start so it sees the cluster at once rather than after an
// interval. The quiet period starts at the first answer: before it, nodes
// may be a slow network away, and only ctx bounds the wait, unless NATS says
// at once that no node is subscribed at all.
func (r *Registry) Sync(ctx context.Context, quiet time.Duration) (int, error) {
	if r.nc == nil {
		return 0, errors.New("registry: no NATS connection")
	}
	inbox := r.nc.NewRespInbox()
	ch := make(chan *nats.Msg, 1024)
	sub, err := r.nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return 0, fmt.Errorf("registry: ping: %w", err)
	}
	defer sub.Unsubscribe()
	ping := nats.NewMsg(r.subj.Ping())
	ping.Header.Set(wire.HeaderContentType, wire.ContentTypeMsgpack)
	ping.Reply = inbox
	if err := r.nc.PublishMsg(ping); err != nil {
		return 0, fmt.Errorf("registry: ping: %w", err)
	}
	n := 0
	t := time.NewTimer(quiet)
	t.Stop()
	defer t.Stop()
	var quietDone <-chan time.Time // armed by the first answer
	for {
		select {
		case m := <-ch:
			if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
				return n, nil // no node at all: no answer is coming
			}
			r.onMsg(m)
			n++
			t.Reset(quiet)
			quietDone = t.C
		case <-quietDone:
			return n, nil
		case <-ctx.Done():
			return n, ctx.Err()
		}
	}
}

// onMsg takes in one heartbeat. In steady state it allocates nothing: the
// heartbeat is decoded into a copy of the node's previous one, keeping the
// strings and lists that did not change.
func (r *Registry) onMsg(m *nats.Msg) {
	var prevID string
	if sub, err := r.subj.Parse(m.Subject); err == nil && sub.Kind == subjects.KindHeartbeat {
		prevID = sub.Node
	}
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var hb wire.Heartbeat
	if i, ok := r.tab.Index(prevID); ok && r.tab.Node(i).Via == wire.ViaNATS {
		hb = r.tab.Node(i).Heartbeat
	}
	if err := wire.DecodeHeartbeatReusing(m, &hb); err != nil {
		r.log.Warn("bad heartbeat", "subject", m.Subject, "err", err)
		return
	}
	if err := subjects.ValidToken(hb.Node); err != nil {
		r.log.Warn("bad heartbeat", "subject", m.Subject, "err", err)
		return
	}
	r.observeLocked(&hb, now)
}

// Observe records a heartbeat as if it had just arrived.
func (r *Registry) Observe(hb *wire.Heartbeat) {
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.observeLocked(hb, now)
}

func (r *Registry) observeLocked(hb *wire.Heartbeat, now time.Time) {
	if _, joined := r.tab.Update(hb, now, r.staleAfter(hb)); joined {
		r.log.Info("node joined", "node", hb.Node, "os", hb.OS, "arch", hb.Arch)
	}
	r.notifyLocked(now, hb.Node)
}

// Probed records an SSH machine's state from its last probe (see Node: Via
// wire.ViaSSH, Seen the probe's time, Reason why it is unreachable). A
// machine a worker heartbeats under keeps no row of its own: it is reached
// through its worker.
func (r *Registry) Probed(m Node) {
	now := r.cfg.Now()
	m.Via, m.Health, m.ClockOffset = wire.ViaSSH, "", 0
	r.mu.Lock()
	defer r.mu.Unlock()
	r.machines[m.Node] = &m
	if i, ok := r.tab.Index(m.Node); ok && r.tab.Node(i).Via == wire.ViaNATS {
		return
	}
	r.tab.Probed(&m, now)
	r.notifyLocked(now, m.Node)
}

// Finished notes that task ended on node. If the node's last heartbeat
// listed it as running, it no longer counts until the next heartbeat says
// what is running: a front end that sees its own task end need not wait a
// heartbeat interval to use the slot (with a node busy at each heartbeat,
// it would sit idle half the time).
func (r *Registry) Finished(node, task string) {
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	row, ok := r.tab.Index(node)
	if !ok {
		return
	}
	n := r.tab.Node(row)
	i := slices.Index(n.Tasks, task)
	if i < 0 {
		return
	}
	// A new list: the old one may be shared with snapshots.
	n.Tasks = slices.Delete(slices.Clone(n.Tasks), i, i+1)
	r.tab.SetRunning(node, max(n.Running-1, 0))
	r.notifyLocked(now, node)
}

// SetRunning records how many tasks this front end runs on SSH machine
// node (a worker says it in its heartbeats).
func (r *Registry) SetRunning(node string, running int) {
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.machines[node]; m != nil {
		m.Running = running
	}
	if i, ok := r.tab.Index(node); !ok || r.tab.Node(i).Via != wire.ViaSSH {
		return
	}
	r.tab.SetRunning(node, running)
	r.notifyLocked(now, node)
}

// View calls f with the compact node table as of now, under the registry's
// read lock: heartbeats wait while f runs, so f must be quick, must not
// keep the table, and must not call the registry.
func (r *Registry) View(f func(t *Table, now time.Time)) {
	now := r.cfg.Now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	f(r.tab, now)
}

// OnHost returns the id of a worker whose hostname is host, and how many
// workers report that hostname.
func (r *Registry) OnHost(host string) (id string, n int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.tab.OnHost(host)
}

// Get returns what is known of node id.
func (r *Registry) Get(id string) (Node, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	i, ok := r.tab.Index(id)
	if !ok {
		return Node{}, false
	}
	return r.nodeLocked(i, r.cfg.Now()), true
}

// Snapshot returns every known node with its health: the workers, then the
// SSH machines, each sorted by id.
func (r *Registry) Snapshot() []Node {
	now := r.cfg.Now()
	r.mu.RLock()
	out := make([]Node, r.tab.Len())
	for i := range out {
		out[i] = r.nodeLocked(i, now)
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b Node) int {
		if a.Via != b.Via {
			return cmpString(viaOrder(a.Via), viaOrder(b.Via))
		}
		return cmpString(a.Node, b.Node)
	})
	return out
}

// viaOrder sorts workers before SSH machines.
func viaOrder(via string) string {
	if via == wire.ViaNATS {
		return ""
	}
	return via
}

// nodeLocked returns a copy of row i's node with its health as of now.
// r.mu is held.
func (r *Registry) nodeLocked(i int, now time.Time) Node {
	n := *r.tab.Node(i)
	n.Health = r.health(&n, now)
	return n
}

// Changed returns a channel closed at the next change of the table (a
// heartbeat, a node going stale or forgotten).
func (r *Registry) Changed() <-chan struct{} {
	r.mu.RLock()
	defer r.mu.RUnlock()
	r.taken.Store(true)
	return r.changed
}

// WaitFor waits until cond holds for the snapshot, or ctx ends.
func (r *Registry) WaitFor(ctx context.Context, cond func([]Node) bool) error {
	for {
		ch := r.Changed()
		if cond(r.Snapshot()) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (r *Registry) health(n *Node, now time.Time) Health {
	switch {
	case n.Via == wire.ViaSSH && n.Reason != "":
		return HealthUnreachable
	case n.Via == wire.ViaSSH:
		return HealthReady
	case n.State == wire.StateLeaving:
		return HealthLeaving
	}
	if now.Sub(n.Seen) > r.staleAfter(&n.Heartbeat) {
		return HealthStale
	}
	if n.State == wire.StateDraining {
		return HealthDraining
	}
	return HealthReady
}

// staleAfter is how long after hb a worker that sends no other is stale.
func (r *Registry) staleAfter(hb *wire.Heartbeat) time.Duration {
	ivl := hb.Interval.D()
	if ivl <= 0 {
		ivl = DefaultInterval
	}
	return time.Duration(r.cfg.StaleIntervals) * ivl
}

// Close stops the subscription and the reaper. Safe to call twice.
func (r *Registry) Close() {
	r.once.Do(func() {
		if r.cancel != nil {
			r.cancel()
		}
		if r.sub != nil {
			_ = r.sub.Unsubscribe()
		}
		r.loops.Wait()
	})
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
