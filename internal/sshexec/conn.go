package sshexec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/fabric-run/fabric/internal/capture"
	"github.com/fabric-run/fabric/subjects"
)

// hostConn is the pool's entry for one host: its connection, if it has a
// live one, the session slots and the counters.
type hostConn struct {
	host     Host
	runSlots chan struct{} // one per command or probe session
	ctlSlots chan struct{} // the session kept for control (kill)
	dialing  chan struct{} // held while dialling: one dial at a time

	mu         sync.Mutex
	live       *sshConn
	dials      int
	failures   int
	lastErr    error
	sessions   int64
	running    int
	lastUsed   time.Time
	keepalives int64
}

func newHostConn(h Host, maxSessions int) *hostConn {
	return &hostConn{
		host:     h,
		runSlots: make(chan struct{}, maxSessions-1),
		ctlSlots: make(chan struct{}, 1),
		dialing:  make(chan struct{}, 1),
	}
}

// acquire takes a slot of slots, waiting for one until ctx ends.
func acquire(ctx context.Context, slots chan struct{}) (release func(), err error) {
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// current returns the live connection, if any.
func (hc *hostConn) current() *sshConn {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if hc.live != nil && !hc.live.alive() {
		hc.live = nil
	}
	return hc.live
}

// lost forgets s if it is the current connection, and records why.
func (hc *hostConn) lost(s *sshConn, err error) {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if hc.live == s {
		hc.live = nil
	}
	if err != nil {
		hc.lastErr = err
	}
}

// failed records a failed dial.
func (hc *hostConn) failed(err error) {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	hc.failures++
	hc.lastErr = err
}

// sshConn is one SSH connection.
type sshConn struct {
	client    *ssh.Client
	addr      string // the address it went to
	since     time.Time
	dead      chan struct{} // closed once the connection is gone
	closeOnce sync.Once

	// Learnt once per connection by detect.
	shell string // absolute path of the shell for commands
	os    string // normalised uname -s, "" if unknown
	arch  string // normalised uname -m, "" if unknown
}

func newSSHConn(client *ssh.Client, addr string) *sshConn {
	return &sshConn{client: client, addr: addr, since: time.Now(), dead: make(chan struct{})}
}

// close closes the connection; safe to call more than once.
func (s *sshConn) close() {
	s.closeOnce.Do(func() { s.client.Close() })
}

// alive reports whether the connection is still up as far as is known.
func (s *sshConn) alive() bool {
	select {
	case <-s.dead:
		return false
	default:
		return true
	}
}

// detect learns the remote's OS, CPU and shell, once per connection.
func (s *sshConn) detect(ctx context.Context, timeout time.Duration, pref string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, _, err := s.runScript(ctx, detectScript, timeout)
	if err != nil {
		return fmt.Errorf("detect shell: %w", err)
	}
	// Lines are tagged: a login shell's rc files may print their own.
	bash := ""
	for _, line := range strings.Split(out, "\n") {
		if u, ok := strings.CutPrefix(line, "fabric-uname "); ok {
			if f := strings.Fields(u); len(f) == 2 {
				s.os, _ = subjects.NormalizeOS(f[0])
				s.arch, _ = subjects.NormalizeArch(f[1])
			}
		}
		if b, ok := strings.CutPrefix(line, "fabric-bash "); ok && strings.HasPrefix(b, "/") {
			bash = strings.TrimSpace(b)
		}
	}
	switch {
	case pref == ShellSh:
		s.shell = "/bin/sh"
	case bash != "":
		s.shell = bash
	case pref == ShellBash:
		s.shell = "" // Run reports it
	default:
		s.shell = "/bin/sh"
	}
	return nil
}

// runScript runs a short sh program (detection, probe, kill) and returns its
// output, keeping at most 1 MiB of each stream. A non-zero exit is an
// *ssh.ExitError. If ctx ends first, the session is closed (the program is
// left to finish by itself) and ctx's error returned.
func (s *sshConn) runScript(ctx context.Context, script string, grace time.Duration) (stdout, stderr string, err error) {
	sess, err := s.newSession(ctx, grace)
	if err != nil {
		return "", "", err
	}
	out, errOut := capture.New(1<<20), capture.New(1<<20)
	sess.Stdin = strings.NewReader(script)
	sess.Stdout, sess.Stderr = out, errOut
	if err := sess.Start(remoteCommand); err != nil {
		sess.Close()
		return "", "", fmt.Errorf("start: %w", err)
	}
	finished := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = sess.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		sess.Close()
	case <-ctx.Done():
		s.endSession(sess, finished, 0, grace)
		return "", "", ctx.Err()
	}
	return out.String(), errOut.String(), waitErr
}

// newSession opens a session, waiting up to patience for a server that
// refuses it for want of a free one. sshd frees a finished session's slot
// only when it garbage-collects the channel, after the close has been
// exchanged, so a session opened just as another ended can be refused
// ("no more sessions") although fewer than MaxSessions are open.
func (s *sshConn) newSession(ctx context.Context, patience time.Duration) (*ssh.Session, error) {
	deadline := time.Now().Add(patience)
	delay := 2 * time.Millisecond
	for {
		sess, err := s.client.NewSession()
		var oce *ssh.OpenChannelError
		if err == nil || !errors.As(err, &oce) || time.Now().Add(delay).After(deadline) {
			if err != nil {
				return nil, fmt.Errorf("open session: %w", err)
			}
			return sess, nil
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("open session: %w", ctx.Err())
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// endSession waits up to wait for a session to end by itself, then closes
// it and waits up to grace more for the server to confirm; a server that
// does not is presumed gone and the whole connection is closed, which ends
// every session on it. When endSession returns, finished is closed.
func (s *sshConn) endSession(sess *ssh.Session, finished <-chan struct{}, wait, grace time.Duration) {
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-finished:
			t.Stop()
			sess.Close()
			return
		case <-t.C:
		}
	}
	sess.Close()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-finished:
	case <-t.C:
		s.close()
		<-finished
	}
}

// isBroken reports whether err from opening or starting a session means the
// connection is gone (rather than the server refusing the session).
// A refusal is an *ssh.OpenChannelError or "ssh: command ... failed"; a
// connection that is gone answers io.EOF.
func (s *sshConn) isBroken(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || !s.alive()
}
