//go:build unix

package sshexec

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/wire"
)

// onlyStats returns the pool's single host entry.
func onlyStats(t *testing.T, p *Pool) ConnStats {
	t.Helper()
	st := p.Stats()
	if len(st) != 1 {
		t.Fatalf("Stats() has %d hosts, want 1: %+v", len(st), st)
	}
	return st[0]
}

func TestPoolReusesOneConnection(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	p := newTestPool(t, sshd.testConfig(t))
	h := sshd.Host()
	for i := range 10 {
		res := run(t, p, h, &wire.Task{Command: fmt.Sprintf("echo %d", i)})
		if res.Stdout != fmt.Sprintf("%d\n", i) {
			t.Fatalf("command %d: stdout %q", i, res.Stdout)
		}
	}
	// More at once than sshd's MaxSessions (10): the pool queues them on
	// the one connection rather than have sshd refuse sessions.
	const concurrent = 15
	var wg sync.WaitGroup
	errs := make(chan error, concurrent)
	for i := range concurrent {
		wg.Go(func() {
			res, err := p.Run(context.Background(), h, &wire.Task{Command: fmt.Sprintf("sleep 0.2; echo %d", i)}, nil)
			switch {
			case err != nil:
				errs <- err
			case res.Stdout != fmt.Sprintf("%d\n", i) || res.ExitCode != 0:
				errs <- fmt.Errorf("command %d: exit %d, stdout %q, stderr %q, %s", i, res.ExitCode, res.Stdout, res.Stderr, res.Message)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := onlyStats(t, p)
	if st.Dials != 1 || !st.Connected || st.Sessions != 10+concurrent {
		t.Errorf("Stats: Dials %d, Connected %v, Sessions %d; want 1, true, %d", st.Dials, st.Connected, st.Sessions, 10+concurrent)
	}
	if n := sshd.Accepted(); n != 1 {
		t.Errorf("sshd authenticated %d connections for %d commands, want 1", n, 10+concurrent)
	}
	if n := len(sshd.ConnectionPIDs()); n != 1 {
		t.Errorf("sshd serves %d connections, want 1", n)
	}
}

func TestPoolRedialsAfterServerDropsConnection(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	p := newTestPool(t, sshd.testConfig(t))
	h := sshd.Host()
	run(t, p, h, &wire.Task{Command: "true"})

	sshd.KillConnections()
	res := run(t, p, h, &wire.Task{Command: "echo again"})
	if res.Stdout != "again\n" || res.Error != "" {
		t.Errorf("after the server dropped the connection: %+v", res)
	}

	sshd.Restart()
	res = run(t, p, h, &wire.Task{Command: "echo restarted"})
	if res.Stdout != "restarted\n" || res.Error != "" {
		t.Errorf("after sshd restarted: %+v", res)
	}
	if st := onlyStats(t, p); st.Dials != 3 {
		t.Errorf("Dials = %d, want 3 (one per connection lost)", st.Dials)
	}
	if n := sshd.Accepted(); n != 3 {
		t.Errorf("sshd authenticated %d connections, want 3", n)
	}
}

// TestPoolRedialsUnnoticedDeadConnection covers a connection that died
// without the pool noticing yet: opening the session fails, and Run dials
// again once by itself, before anything started.
func TestPoolRedialsUnnoticedDeadConnection(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	p := newTestPool(t, sshd.testConfig(t))
	h := sshd.Host()
	run(t, p, h, &wire.Task{Command: "true"})

	// Close the live client behind the pool's back, and hand the pool a
	// copy of the connection that does not know it is dead.
	hc := p.hosts[mustComplete(t, p, h).key()]
	hc.mu.Lock()
	old := hc.live
	stale := &sshConn{client: old.client, addr: old.addr, since: old.since, dead: make(chan struct{}), shell: old.shell}
	hc.live = stale
	hc.mu.Unlock()
	old.client.Close()

	res := run(t, p, h, &wire.Task{Command: "echo redialled"})
	if res.Stdout != "redialled\n" || res.Error != "" {
		t.Errorf("Run over a dead connection: %+v", res)
	}
	if st := onlyStats(t, p); st.Dials != 2 {
		t.Errorf("Dials = %d, want 2", st.Dials)
	}
}

func mustComplete(t *testing.T, p *Pool, h Host) Host {
	t.Helper()
	h, err := h.complete(&p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestKeepAliveDropsHungConnection freezes sshd's side of the connection:
// TCP stays up but nothing answers, which only a keepalive can tell.
func TestKeepAliveDropsHungConnection(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	cfg := sshd.testConfig(t)
	cfg.KeepAlive = 100 * time.Millisecond
	// The keepalive's answer is awaited this long: short, but long enough
	// that a loaded test machine still completes the first handshake.
	cfg.HandshakeTimeout = 2 * time.Second
	p := newTestPool(t, cfg)
	h := sshd.Host()
	run(t, p, h, &wire.Task{Command: "true"})
	// Let a few keepalives pass on a healthy connection: OpenSSH answers
	// them with a failure, which must not count as dead.
	waitFor(t, 5*time.Second, "keepalives on a healthy connection", func() bool {
		return onlyStats(t, p).KeepAlives >= 3
	})
	if st := onlyStats(t, p); !st.Connected || st.Dials != 1 {
		t.Fatalf("healthy connection dropped: %+v", st)
	}

	pids := sshd.ConnectionPIDs()
	if len(pids) != 1 {
		t.Fatalf("sshd serves %d connections, want 1", len(pids))
	}
	frozen := append(pids, descendants(pids[0])...)
	for _, pid := range frozen {
		syscall.Kill(pid, syscall.SIGSTOP)
	}
	t.Cleanup(func() {
		for _, pid := range frozen {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	})
	waitFor(t, 15*time.Second, "the keepalive to drop the hung connection", func() bool {
		st := onlyStats(t, p)
		return !st.Connected && strings.Contains(st.LastError, "keepalive")
	})
	res := run(t, p, h, &wire.Task{Command: "echo fresh"})
	if res.Stdout != "fresh\n" {
		t.Errorf("Run after the keepalive dropped the connection: %+v", res)
	}
	if st := onlyStats(t, p); st.Dials != 2 {
		t.Errorf("Dials = %d, want 2", st.Dials)
	}
}

func TestCloseStopsEverything(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	before := runtime.NumGoroutine()
	cfg := sshd.testConfig(t)
	cfg.KeepAlive = 50 * time.Millisecond
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := sshd.Host()
	run(t, p, h, &wire.Task{Command: "true"})
	if _, err := p.Probe(context.Background(), h); err != nil {
		t.Fatal(err)
	}

	// A running task is cancelled by Close, its process group killed.
	ctx := context.Background()
	pgid, done := startSleeper(t, p, h, ctx, time.Minute)
	if err := p.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	res := <-done
	if res == nil || res.Error != wire.ErrCancelled || !strings.Contains(res.Message, "pool was closed") {
		t.Errorf("task running at Close: %+v, want cancelled because the pool closed", res)
	}
	waitFor(t, 2*time.Second, "the remote process group to be gone", func() bool { return len(groupMembers(pgid)) == 0 })

	if err := p.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := p.Run(ctx, h, &wire.Task{Command: "true"}, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
	if _, err := p.Probe(ctx, h); !errors.Is(err, ErrClosed) {
		t.Errorf("Probe after Close = %v, want ErrClosed", err)
	}
	waitFor(t, 5*time.Second, "the pool's goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
	waitFor(t, 5*time.Second, "sshd to see the connection closed", func() bool { return len(sshd.ConnectionPIDs()) == 0 })
}
