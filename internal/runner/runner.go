// Package runner runs one command as a local child process, the way a fabric
// node runs every task: in a process group of its own under the node's shell,
// with a timeout and a cancel that kill the whole group, stdout and stderr
// captured separately within a limit and streamed as they arrive.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fabric-run/fabric/internal/capture"
	"github.com/fabric-run/fabric/internal/wire"
)

// DefaultOutputLimit is how many bytes of each stream are kept by default:
// the one every part of fabric applies.
const DefaultOutputLimit = wire.DefaultOutputLimit

// A command's output is read in pieces of minRead bytes at first; each read
// that fills the buffer doubles it, up to maxRead, the largest piece handed
// to an OutputFunc. A command printing a few lines costs a small buffer; one
// streaming gigabytes gets large pieces (fewer messages on the bus) and, on
// Linux, a larger pipe to fill them.
const (
	minRead = 16 << 10
	maxRead = 256 << 10
	// bigPipe is the pipe size asked for once output turns out large.
	bigPipe = 1 << 20
)

// killGrace is how long output pipes may stay open after the process group
// was killed (held by a process that left the group) before they are closed.
const killGrace = 2 * time.Second

// Spec describes one command to run.
type Spec struct {
	// Command is run by Shell with -c. Exactly one of Command and Argv is set.
	Command string
	// Argv is run directly, with no shell.
	Argv []string
	// Shell is the shell that runs Command; empty means DefaultShell().
	Shell string
	// Dir is the working directory; empty means the current one.
	Dir string
	// Env is added to (and overrides) the process environment.
	Env map[string]string
	// Timeout kills the command's process group; zero means no timeout.
	Timeout time.Duration
	// OutputLimit is how many bytes of each stream are kept; zero means
	// DefaultOutputLimit. Everything is still streamed and counted.
	OutputLimit int
	// Direct lets a Command that is one simple command run without the
	// shell when that is exactly what the shell would do (see direct.go).
	// Set it only for a shell DirectCheck approved.
	Direct bool
	// IdleTimeout kills the command's process group once it has printed
	// nothing, on either stream, for this long (Error ErrIdleTimeout);
	// zero means no idle timeout.
	IdleTimeout time.Duration
	// Stdin, if not nil, is copied to the command's standard input, which
	// is closed at its end; nil gives the command an empty input. If Stdin
	// is an io.Closer, it is closed when the command ends, so that a copy
	// waiting on it ends too.
	Stdin io.Reader
}

// OutputFunc receives output as it arrives. It is called from one goroutine
// per stream, so calls for stdout and stderr may overlap; p is only valid
// during the call. It may block: the command then blocks on a full pipe.
// It is fabric's one output callback type, wire.OutputFunc.
type OutputFunc = wire.OutputFunc

// DefaultShell returns bash if it is on PATH, else sh.
func DefaultShell() string {
	if p, err := exec.LookPath("bash"); err == nil {
		return p
	}
	return "/bin/sh"
}

// Run runs spec and returns its result (ID and Node are left for the caller).
// It returns when the command and everything holding its output have
// finished, or when ctx ends or the timeout passes (Error says which) and the
// process group has been killed. out may be nil.
func Run(ctx context.Context, spec Spec, out OutputFunc) *wire.Result {
	res, _ := run(ctx, spec, out)
	return res
}

// run is Run, also saying whether the command ran directly, without the
// shell.
func run(ctx context.Context, spec Spec, out OutputFunc) (res *wire.Result, direct bool) {
	res = &wire.Result{Started: time.Now()}
	limit := spec.OutputLimit
	if limit <= 0 {
		limit = DefaultOutputLimit
	}
	stdout, stderr := capture.New(limit), capture.New(limit)
	defer func() {
		res.Duration = wire.Duration(time.Since(res.Started))
		res.Stdout, res.StdoutBytes, res.StdoutTruncated = stdout.String(), stdout.Total(), stdout.Truncated()
		res.Stderr, res.StderrBytes, res.StderrTruncated = stderr.String(), stderr.Total(), stderr.Truncated()
	}()

	cmd, err := command(spec)
	if err != nil {
		fail(res, wire.ErrStartFailed, err.Error())
		return res, false
	}
	var fast *exec.Cmd
	if spec.Direct && spec.Command != "" && isBash(cmd.Path) {
		if argv, ok := simpleArgv(spec.Command); ok {
			fast, _ = directCommand(cmd, argv)
		}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		fail(res, wire.ErrStartFailed, fmt.Sprintf("stdout pipe: %v", err))
		return res, false
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		fail(res, wire.ErrStartFailed, fmt.Sprintf("stderr pipe: %v", err))
		return res, false
	}
	in, err := newInput(spec.Stdin)
	if err != nil {
		outR.Close()
		outW.Close()
		errR.Close()
		errW.Close()
		fail(res, wire.ErrStartFailed, err.Error())
		return res, false
	}
	defer in.finish()
	cmd.Stdout, cmd.Stderr, cmd.Stdin = outW, errW, in.child()
	if fast != nil {
		// A direct start that fails (a script with no #! line, say) never
		// ran anything: the shell then does whatever it does with it.
		fast.Stdout, fast.Stderr, fast.Stdin = outW, errW, in.child()
		if fast.Start() == nil {
			cmd, direct = fast, true
		}
	}
	if !direct {
		err = cmd.Start()
	}
	// The child has its own copies; ours must go so readers see EOF when
	// every process holding the pipes is gone.
	outW.Close()
	errW.Close()
	in.started()
	if err != nil {
		outR.Close()
		errR.Close()
		fail(res, wire.ErrStartFailed, fmt.Sprintf("start: %v", err))
		return res, false
	}

	var readers sync.WaitGroup
	readers.Add(2)
	var lastOut atomic.Int64 // when the command last printed, in ns since res.Started
	seen := out
	if spec.IdleTimeout > 0 {
		seen = func(s wire.Stream, p []byte) {
			lastOut.Store(int64(time.Since(res.Started)))
			if out != nil {
				out(s, p)
			}
		}
	}
	go pump(&readers, outR, wire.Stdout, stdout, seen)
	go pump(&readers, errR, wire.Stderr, stderr, seen)
	// done closes once the process has exited and every holder of its
	// output pipes has closed them (background children included).
	var waitErr error
	done := make(chan struct{})
	go func() {
		waitErr = cmd.Wait()
		readers.Wait()
		close(done)
	}()

	var timeout, idle <-chan time.Time
	if spec.Timeout > 0 {
		t := time.NewTimer(spec.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	var idleTimer *time.Timer
	if spec.IdleTimeout > 0 {
		idleTimer = time.NewTimer(spec.IdleTimeout)
		defer idleTimer.Stop()
		idle = idleTimer.C
	}
wait:
	for {
		select {
		case <-done:
		case <-timeout:
			fail(res, wire.ErrTimeout, fmt.Sprintf("killed after its timeout of %s", spec.Timeout))
			stop(cmd, done, outR, errR)
		case <-idle:
			quiet := time.Since(res.Started) - time.Duration(lastOut.Load())
			if quiet < spec.IdleTimeout {
				idleTimer.Reset(spec.IdleTimeout - quiet)
				continue
			}
			fail(res, wire.ErrIdleTimeout, fmt.Sprintf("killed after printing nothing for %s (its idle timeout)", spec.IdleTimeout))
			stop(cmd, done, outR, errR)
		case <-ctx.Done():
			fail(res, wire.ErrCancelled, fmt.Sprintf("cancelled: %v", context.Cause(ctx)))
			stop(cmd, done, outR, errR)
		}
		break wait
	}
	outR.Close()
	errR.Close()
	exitStatus(res, cmd.ProcessState, waitErr)
	return res, direct
}

// stop kills the process group and waits for done; if a process that left
// the group still holds the output pipes after killGrace, the read ends are
// closed so the task cannot outlive its kill.
func stop(cmd *exec.Cmd, done <-chan struct{}, pipes ...*os.File) {
	killGroup(cmd)
	t := time.NewTimer(killGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		for _, f := range pipes {
			f.Close()
		}
		<-done
	}
}

func pump(wg *sync.WaitGroup, r *os.File, s wire.Stream, keep *capture.Buffer, out OutputFunc) {
	defer wg.Done()
	buf := make([]byte, minRead)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			keep.Write(buf[:n])
			if out != nil {
				out(s, buf[:n])
			}
		}
		if err != nil {
			return
		}
		if n == len(buf) && len(buf) < maxRead {
			if len(buf) == minRead {
				growPipe(r, bigPipe)
			}
			buf = make([]byte, 2*len(buf))
		}
	}
}

func command(spec Spec) (*exec.Cmd, error) {
	var cmd *exec.Cmd
	switch {
	case spec.Command != "" && len(spec.Argv) > 0:
		return nil, errors.New("both a command and argv given")
	case spec.Command != "":
		sh := spec.Shell
		if sh == "" {
			sh = DefaultShell()
		}
		cmd = exec.Command(sh, "-c", spec.Command)
	case len(spec.Argv) > 0:
		path, err := exec.LookPath(spec.Argv[0])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec.Argv[0], err)
		}
		cmd = exec.Command(path, spec.Argv[1:]...)
	default:
		return nil, errors.New("nothing to run: no command and no argv")
	}
	if spec.Dir != "" {
		if fi, err := os.Stat(spec.Dir); err != nil {
			return nil, fmt.Errorf("working directory: %w", err)
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("working directory %s: not a directory", spec.Dir)
		}
		cmd.Dir = spec.Dir
	}
	if len(spec.Env) > 0 {
		cmd.Env = os.Environ()
		for k, v := range spec.Env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	setProcessGroup(cmd)
	return cmd, nil
}

func fail(res *wire.Result, kind wire.ErrorKind, msg string) {
	if res.Error != wire.ErrNone {
		return
	}
	res.Error, res.Message = kind, msg
	res.ExitCode = -1
}
