package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/worker"
)

// readyTimeout bounds every wait for something started to be ready.
const readyTimeout = 30 * time.Second

// cluster is what a scenario started: a hub, nodes in process or as
// processes, a front end. close stops all of it, in reverse order.
type cluster struct {
	e       *env
	hub     *hub.Hub
	conns   []*nats.Conn
	workers []*worker.Worker
	procs   []*child
	fe      *frontend.Service
	closers []func() // run first by close, last added first
}

// onClose adds f to what close runs (before the rest).
func (c *cluster) onClose(f func()) { c.closers = append(c.closers, f) }

// newCluster starts an embedded hub listening on a random loopback port
// (separate processes reach it there).
func (e *env) newCluster() (*cluster, error) {
	h, err := hub.Start(hub.Config{})
	if err != nil {
		return nil, err
	}
	return &cluster{e: e, hub: h}, nil
}

// oneNode starts a cluster of one in-process node ("bench", 4 slots) and a
// front end that knows it. The caller closes the cluster.
func (e *env) oneNode(ctx context.Context) (*cluster, *frontend.Service, error) {
	c, err := e.newCluster()
	if err != nil {
		return nil, nil, err
	}
	if err := c.addNode("bench", 4); err != nil {
		c.close()
		return nil, nil, err
	}
	fe, err := c.startFrontend(ctx, 1)
	if err != nil {
		c.close()
		return nil, nil, err
	}
	return c, fe, nil
}

// connect opens a client connection to the hub.
func (c *cluster) connect(name string) (*nats.Conn, error) {
	nc, err := nats.Connect(c.hub.ClientURL(), nats.Name(name))
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", name, err)
	}
	c.conns = append(c.conns, nc)
	return nc, nil
}

// addNode starts a node in this process, on a connection of its own.
func (c *cluster) addNode(name string, slots int) error {
	nc, err := c.connect("fabric-node " + name)
	if err != nil {
		return err
	}
	w, err := worker.New(nc, worker.Config{Name: name, NoDetect: true, Slots: slots, Load: worker.FixedLoad{CPUs: slots},
		HeartbeatInterval: time.Second, Logger: c.e.log})
	if err != nil {
		return err
	}
	if err := w.Start(); err != nil {
		return err
	}
	c.workers = append(c.workers, w)
	return nil
}

// spawnNode starts `fabric node` as a separate process.
func (c *cluster) spawnNode(ctx context.Context, name string, args ...string) (*child, error) {
	base := []string{"node", "--server", c.hub.ClientURL(), "--name", name, "--log-level", "warn"}
	p, err := c.e.start(ctx, append(base, args...)...)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, p)
	return p, nil
}

// startFrontend starts a front end (records in memory) and waits until it
// sees n ready nodes.
func (c *cluster) startFrontend(ctx context.Context, n int) (*frontend.Service, error) {
	nc, err := c.connect("fabric")
	if err != nil {
		return nil, err
	}
	fe, err := frontend.New(nc, frontend.Config{Logger: c.e.log})
	if err != nil {
		return nil, err
	}
	c.fe = fe
	if err := fe.Start(ctx); err != nil {
		return nil, err
	}
	if err := waitReady(ctx, fe, n); err != nil {
		return nil, err
	}
	return fe, nil
}

// waitReady waits until fe sees n ready nodes.
func waitReady(ctx context.Context, fe *frontend.Service, n int) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	err := fe.WaitNodes(ctx, func(ns []registry.Node) bool { return countReady(ns) >= n })
	if err != nil {
		return fmt.Errorf("waiting for %d ready nodes: %w", n, err)
	}
	return nil
}

// countReady returns how many of ns are ready.
func countReady(ns []registry.Node) int {
	ready := 0
	for _, x := range ns {
		if x.Health == registry.HealthReady {
			ready++
		}
	}
	return ready
}

func (c *cluster) close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
	if c.fe != nil {
		c.fe.Close()
	}
	for _, p := range c.procs {
		p.stop()
	}
	for _, w := range c.workers {
		_ = w.Close()
	}
	for _, nc := range c.conns {
		nc.Close()
	}
	c.hub.Close()
}

// child is a separate fabric process.
type child struct {
	cmd    *exec.Cmd
	out    *bufio.Reader // its stdout
	stderr tailBuffer
	done   chan struct{}
	err    error
}

// start runs the fabric binary with args.
func (e *env) start(ctx context.Context, args ...string) (*child, error) {
	if e.cfg.Exe == "" {
		return nil, errors.New("no fabric binary to start processes from (Config.Exe)")
	}
	cmd := exec.Command(e.cfg.Exe, args...)
	cmd.Env = append(os.Environ(), e.cfg.ExeEnv...)
	p := &child{cmd: cmd, done: make(chan struct{})}
	cmd.Stderr = &p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", args[0], err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", args[0], err)
	}
	p.out = bufio.NewReader(stdout)
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// pid returns the process id.
func (p *child) pid() int { return p.cmd.Process.Pid }

// line reads the next line the process writes to stdout.
func (p *child) line(ctx context.Context) (string, error) {
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := p.out.ReadString('\n')
		ch <- res{strings.TrimSpace(s), err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return r.s, fmt.Errorf("%s: %w (stderr: %s)", p.cmd.Args[1], r.err, p.stderr.String())
		}
		return r.s, nil
	case <-ctx.Done():
		p.stop() // unblocks the reader
		<-ch
		return "", ctx.Err()
	}
}

// stop interrupts the process (a node drains) and kills it if it has not
// exited in a few seconds; then the process is gone.
func (p *child) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		_ = p.cmd.Process.Kill()
	}
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tailBuffer keeps the last 4 KiB written to it: a child's stderr, for
// error messages.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

// Write implements io.Writer; it never fails.
func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - 4096; over > 0 {
		b.buf = b.buf[over:]
	}
	return len(p), nil
}

// String returns what is kept, trimmed.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(string(b.buf))
}

var _ io.Writer = (*tailBuffer)(nil)
