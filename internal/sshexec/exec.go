package sshexec

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/fabric-run/fabric/internal/wire"
)

// Run runs task on h and returns its result, filled in as a worker node
// would: the command under bash (else sh), or argv with no shell; in
// task.Cwd with task.Env; stdout and stderr each capped at the task's
// output limit (else Config.OutputLimit) and passed to onOutput, if not nil,
// as they arrive; killed with its whole remote process group at the task's
// timeout (else Config.CommandTimeout) or when ctx ends.
//
// onOutput is called from the session's goroutines, never concurrently and
// never after Run returns; it must not keep p.
//
// Run returns an error, and no result, only when the task never started:
// the host could not be reached or authenticated, refused a session, or the
// pool is closed; the caller may safely try another host. Once the task was
// handed to the host, every outcome is a result (Error says timeout,
// cancelled, start_failed, node_lost, bad_request ...). A Run that finds its
// connection dead before the command started redials once by itself.
func (p *Pool) Run(ctx context.Context, h Host, task *wire.Task, onOutput wire.OutputFunc) (*wire.Result, error) {
	return p.run(ctx, h, task, onOutput, nil)
}

// run is Run, calling started (if not nil) once the command has started on
// the host, before any of its output.
func (p *Pool) run(ctx context.Context, h Host, task *wire.Task, onOutput wire.OutputFunc, started func()) (*wire.Result, error) {
	if task == nil {
		return nil, errors.New("sshexec: run: nil task")
	}
	h, err := h.complete(&p.cfg)
	if err != nil {
		return nil, err
	}
	res := &wire.Result{ID: task.ID, Node: h.Name, ExitCode: -1}
	if why := checkTask(task); why != "" {
		res.Error, res.Message = wire.ErrBadRequest, why+"."
		return res, nil
	}
	hc, ctx, leave, err := p.enter(ctx, h, "")
	if err != nil {
		return nil, err
	}
	defer leave()

	prog := p.program(task)
	out := newRunOutput(prog.marker(), p.outputLimit(task), onOutput)
	s, sess, err := p.launch(ctx, hc, prog, out)
	switch {
	case errors.Is(err, errNoBash):
		res.Error = wire.ErrStartFailed
		res.Message = fmt.Sprintf("%s has no bash and the pool is configured to require it (Shell %q).", h.Name, ShellBash)
		return res, nil
	case err != nil:
		return nil, err
	}
	res.Started = time.Now()
	if started != nil {
		started()
	}
	hc.mu.Lock()
	hc.sessions++
	hc.running++
	hc.lastUsed = res.Started
	hc.mu.Unlock()
	defer func() {
		hc.mu.Lock()
		hc.running--
		hc.mu.Unlock()
	}()

	e := p.await(ctx, hc, s, sess, out, prog.timeout)
	res.Duration = wire.Duration(time.Since(res.Started))
	out.fill(res)
	_, fail := out.state()
	describe(res, h, prog, fail, e)
	return res, nil
}

// errNoBash: the pool requires bash and the host has none.
var errNoBash = errors.New("no bash")

// program prepares the remote program of task.
func (p *Pool) program(task *wire.Task) *program {
	timeout := task.Timeout.D()
	if timeout <= 0 {
		timeout = p.cfg.CommandTimeout
	}
	return &program{
		nonce: newNonce(), command: task.Command, argv: task.Argv,
		cwd: task.Cwd, env: task.Env, timeout: timeout,
	}
}

// outputLimit is how much of each stream a result keeps.
func (p *Pool) outputLimit(task *wire.Task) int {
	if task.OutputLimit > 0 {
		return int(min(task.OutputLimit, math.MaxInt32))
	}
	return p.cfg.OutputLimit
}

// launch starts prog in a new session of hc's connection. If the
// connection turns out to be dead before the program started, it dials
// again, once.
func (p *Pool) launch(ctx context.Context, hc *hostConn, prog *program, out *runOutput) (*sshConn, *ssh.Session, error) {
	name := hc.host.Name
	for attempt := 0; ; attempt++ {
		s, err := p.connect(ctx, hc)
		if err != nil {
			return nil, nil, p.ctxErr(err)
		}
		if prog.command != "" && s.shell == "" {
			return nil, nil, errNoBash
		}
		prog.shell = s.shell
		sess, err := startSession(ctx, s, prog.String(), out, p.cfg.HandshakeTimeout)
		if err == nil {
			return s, sess, nil
		}
		if !s.isBroken(err) {
			return nil, nil, fmt.Errorf("ssh %s (%s): %w: %w", name, s.addr, ErrSession, p.ctxErr(err))
		}
		s.close()
		hc.lost(s, err)
		if attempt == 1 || ctx.Err() != nil {
			return nil, nil, fmt.Errorf("ssh %s (%s): connection lost before the command started: %w: %w", name, s.addr, ErrUnreachable, err)
		}
		p.log.Info("ssh: connection was dead; redialling", "host", name, "err", err)
	}
}

// await waits for a started command to end: by itself, at its timeout or
// when ctx ends, in which cases it kills the remote process group first.
// Once await returns, the session is over and out holds all the output.
func (p *Pool) await(ctx context.Context, hc *hostConn, s *sshConn, sess *ssh.Session, out *runOutput, timeout time.Duration) ending {
	finished := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = sess.Wait()
		close(finished)
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	e := ending{timeout: timeout}
	select {
	case <-finished:
	case <-timer.C:
		e.why = wire.ErrTimeout
	case <-ctx.Done():
		e.why = wire.ErrCancelled
		e.closed = p.ctx.Err() != nil
		if !e.closed && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			e.why, e.deadline = wire.ErrTimeout, true
		}
	}
	if e.why != "" {
		select {
		case <-finished:
			e.why = "" // it ended on its own at that very moment
		default:
			e.note = p.stop(hc, s, sess, out, finished)
		}
	}
	<-finished
	sess.Close()
	out.finish()
	e.waitErr, e.alive = waitErr, s.alive()
	var ee *ssh.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) && e.alive {
		// The session ended with no exit status: was the connection lost?
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-s.dead:
			e.alive = false
		case <-t.C:
		}
		t.Stop()
	}
	return e
}

// startSession opens a session on s (waiting up to patience for a free
// one) and starts the remote program in it.
func startSession(ctx context.Context, s *sshConn, program string, out *runOutput, patience time.Duration) (*ssh.Session, error) {
	sess, err := s.newSession(ctx, patience)
	if err != nil {
		return nil, err
	}
	sess.Stdin = strings.NewReader(program)
	sess.Stdout = streamWriter{out, wire.Stdout}
	sess.Stderr = streamWriter{out, wire.Stderr}
	if err := sess.Start(remoteCommand); err != nil {
		sess.Close()
		return nil, fmt.Errorf("start: %w", err)
	}
	return sess, nil
}

// stop kills a running command's remote process group through a control
// session, then waits for its session to end. It returns a note for the
// result's message when the kill could not be confirmed.
func (p *Pool) stop(hc *hostConn, s *sshConn, sess *ssh.Session, out *runOutput, finished <-chan struct{}) string {
	grace := p.cfg.HandshakeTimeout
	// The control line comes within a round trip of the start.
	t := time.NewTimer(grace)
	select {
	case <-out.control:
	case <-finished:
	case <-t.C:
	}
	t.Stop()
	pgid, _ := out.state()
	var note string
	switch {
	case pgid > 0:
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		err := p.control(ctx, hc, s, killScript(pgid))
		cancel()
		if err != nil {
			note = fmt.Sprintf("could not reach %s to kill its process group %d (%v); a watchdog there kills it %v after its timeout",
				hc.host.Name, pgid, err, watchdogGrace)
		}
	default:
		select {
		case <-finished:
		default:
			// No process group known: the command has not started, or a
			// login shell hid the control line. Signal what we can.
			_ = sess.Signal(ssh.SIGKILL)
			note = "its process group was not known, so only the session was signalled"
		}
	}
	s.endSession(sess, finished, grace, grace)
	return note
}

// control runs a short program on the session kept for control.
func (p *Pool) control(ctx context.Context, hc *hostConn, s *sshConn, script string) error {
	release, err := acquire(ctx, hc.ctlSlots)
	if err != nil {
		return err
	}
	defer release()
	_, stderr, err := s.runScript(ctx, script, p.cfg.HandshakeTimeout)
	if err != nil && stderr != "" {
		err = fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr))
	}
	return err
}

// ctxErr says "pool closed" rather than "context canceled" when the pool's
// closing ended the wait.
func (p *Pool) ctxErr(err error) error {
	if p.ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}
