package sshexec

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Pool runs tasks and probes on SSH hosts over one pooled connection per
// host, dialled on first use and redialled when it dies. It is safe for
// concurrent use.
type Pool struct {
	cfg   Config
	log   *slog.Logger
	res   *resolveCache
	auth  *authenticator
	known *knownHosts

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // connection goroutines (watch, keepalive)
	runs   sync.WaitGroup // Run and Probe calls in flight

	closeOnce sync.Once

	mu     sync.Mutex
	closed bool
	hosts  map[string]*hostConn
}

// New returns a pool with cfg, after checking it and reading its identity
// files. It dials nothing until a host is used.
func New(cfg Config) (*Pool, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	auth, err := newAuthenticator(&cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Pool{
		cfg:    cfg,
		log:    cfg.Logger,
		res:    newResolveCache(&cfg),
		auth:   auth,
		known:  &knownHosts{path: cfg.KnownHostsFile, log: cfg.Logger},
		ctx:    ctx,
		cancel: cancel,
		hosts:  make(map[string]*hostConn),
	}, nil
}

// Close cancels the tasks running through the pool (killing their remote
// process groups), waits for them, closes every connection and stops the
// pool's goroutines. It is safe to call more than once; later calls return
// nil at once.
func (p *Pool) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		hosts := make([]*hostConn, 0, len(p.hosts))
		for _, hc := range p.hosts {
			hosts = append(hosts, hc)
		}
		p.mu.Unlock()
		p.cancel()
		p.runs.Wait()
		for _, hc := range hosts {
			if s := hc.current(); s != nil {
				s.close()
			}
		}
		p.wg.Wait()
	})
	return nil
}

// enter registers a Run or Probe on h and takes one of h's run slots,
// waiting for one until ctx ends; op prefixes the error of that wait
// ("probe: "). The context it returns ends with ctx or when the pool
// closes; the caller calls leave when done. It fails with ErrClosed once
// Close has begun.
func (p *Pool) enter(ctx context.Context, h Host, op string) (hc *hostConn, _ context.Context, leave func(), err error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, nil, nil, fmt.Errorf("ssh %s: %w", h.Name, ErrClosed)
	}
	hc, ok := p.hosts[h.key()]
	if !ok {
		hc = newHostConn(h, p.cfg.MaxSessions)
		p.hosts[h.key()] = hc
	}
	p.runs.Add(1)
	p.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(p.ctx, cancel)
	release, err := acquire(ctx, hc.runSlots)
	if err != nil {
		err = p.ctxErr(err)
		stop()
		cancel()
		p.runs.Done()
		return nil, nil, nil, fmt.Errorf("ssh %s: %swaiting for a session: %w", h.Name, op, err)
	}
	return hc, ctx, func() {
		release()
		stop()
		cancel()
		p.runs.Done()
	}, nil
}

// connect returns hc's live connection, dialling one if there is none.
// Concurrent callers wait for a single dial.
func (p *Pool) connect(ctx context.Context, hc *hostConn) (*sshConn, error) {
	if s := hc.current(); s != nil {
		return s, nil
	}
	release, err := acquire(ctx, hc.dialing)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: %w", hc.host.Name, err)
	}
	defer release()
	if s := hc.current(); s != nil {
		return s, nil
	}
	h := hc.host
	client, addr, err := p.dial(ctx, h)
	if err != nil {
		hc.failed(err)
		p.log.Warn("ssh: cannot connect", "host", h.Name, "err", err)
		return nil, err
	}
	s := newSSHConn(client, addr)
	if err := s.detect(ctx, p.cfg.HandshakeTimeout, p.cfg.Shell); err != nil {
		s.close()
		err = &DialError{Host: h.Name, Addr: addr, Op: opHandshake, Attempts: 1, Err: err, kind: ErrUnreachable}
		hc.failed(err)
		return nil, err
	}
	if err := p.own(hc, s); err != nil {
		s.close()
		return nil, err
	}
	p.log.Info("ssh: connected", "host", h.Name, "target", h.target(), "addr", addr, "os", s.os, "arch", s.arch, "shell", s.shell)
	return s, nil
}

// own makes s hc's live connection and starts its goroutines: one that
// notices the connection end and, with KeepAlive set, one that sends
// keepalives. Both stop when the connection or the pool closes.
func (p *Pool) own(hc *hostConn, s *sshConn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("ssh %s: %w", hc.host.Name, ErrClosed)
	}
	hc.mu.Lock()
	hc.live = s
	hc.dials++
	hc.mu.Unlock()
	p.wg.Add(1)
	go p.watch(hc, s)
	if p.cfg.KeepAlive > 0 {
		p.wg.Add(1)
		go p.keepAlive(hc, s)
	}
	return nil
}

// watch waits for the connection to end, however it ends.
func (p *Pool) watch(hc *hostConn, s *sshConn) {
	defer p.wg.Done()
	err := s.client.Wait()
	close(s.dead)
	s.close()
	hc.lost(s, nil)
	if p.ctx.Err() == nil {
		p.log.Info("ssh: connection closed", "host", hc.host.Name, "addr", s.addr, "err", err)
	}
}

// keepAlive sends keepalive@openssh.com every KeepAlive. The server may
// answer it with a failure (OpenSSH does): only an error means the
// connection is dead, and so does no answer within HandshakeTimeout.
func (p *Pool) keepAlive(hc *hostConn, s *sshConn) {
	defer p.wg.Done()
	t := time.NewTicker(p.cfg.KeepAlive)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-s.dead:
			return
		case <-t.C:
		}
		deadline := time.AfterFunc(p.cfg.HandshakeTimeout, s.close)
		_, _, err := s.client.SendRequest("keepalive@openssh.com", true, nil)
		if !deadline.Stop() {
			err = &timeoutError{what: "keepalive answer", d: p.cfg.HandshakeTimeout}
		}
		if err != nil {
			p.log.Warn("ssh: keepalive failed; dropping the connection", "host", hc.host.Name, "addr", s.addr, "err", err)
			hc.lost(s, fmt.Errorf("keepalive: %w", err))
			s.close()
			return
		}
		hc.mu.Lock()
		hc.keepalives++
		hc.mu.Unlock()
	}
}

// ConnStats describes a host's pooled connection, for status displays and
// tests.
type ConnStats struct {
	Name       string    // the host's Name
	Target     string    // user@host:port
	Addr       string    // the address connected to; "" when not connected
	Connected  bool      // a live connection is pooled
	Since      time.Time // when the live connection was made
	Dials      int       // connections made (so redials are Dials-1)
	Failures   int       // dials that failed
	LastError  string    // the last dial or keepalive error
	Sessions   int64     // commands and probes run
	Running    int       // commands and probes running now
	LastUsed   time.Time // when a command or probe last started
	KeepAlives int64     // keepalives answered, over all connections
	OS         string    // from uname, normalised; "" until connected
	Arch       string
	Shell      string // the shell commands run under
}

// Stats returns the state of every host the pool has used, by name.
func (p *Pool) Stats() []ConnStats {
	p.mu.Lock()
	hosts := make([]*hostConn, 0, len(p.hosts))
	for _, hc := range p.hosts {
		hosts = append(hosts, hc)
	}
	p.mu.Unlock()
	out := make([]ConnStats, 0, len(hosts))
	for _, hc := range hosts {
		s := hc.current()
		hc.mu.Lock()
		st := ConnStats{
			Name: hc.host.Name, Target: hc.host.target(), Dials: hc.dials, Failures: hc.failures,
			Sessions: hc.sessions, Running: hc.running, LastUsed: hc.lastUsed, KeepAlives: hc.keepalives,
		}
		if hc.lastErr != nil {
			st.LastError = hc.lastErr.Error()
		}
		hc.mu.Unlock()
		if s != nil {
			st.Connected, st.Addr, st.Since = true, s.addr, s.since
			st.OS, st.Arch, st.Shell = s.os, s.arch, s.shell
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b ConnStats) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Target, b.Target))
	})
	return out
}
