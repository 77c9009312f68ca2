package sshexec

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/fabric-run/fabric/internal/wire"
)

// ending is how a run ended, as Run saw it.
type ending struct {
	waitErr  error          // from Session.Wait
	why      wire.ErrorKind // ErrTimeout or ErrCancelled if Run stopped it, else ""
	deadline bool           // why is ErrTimeout because ctx's deadline passed
	closed   bool           // why is ErrCancelled because the pool closed
	timeout  time.Duration  // the task's timeout
	note     string         // about the kill, if it could not be confirmed
	alive    bool           // the connection was still up afterwards
}

// describe sets res's exit code, signal, error kind and message.
func describe(res *wire.Result, h Host, prog *program, fail string, e ending) {
	res.ExitCode = -1
	var ee *ssh.ExitError
	switch {
	case e.waitErr == nil:
		res.ExitCode = 0
	case errors.As(e.waitErr, &ee):
		if sig := ee.Signal(); sig != "" {
			res.Signal = signalName(sig)
		} else {
			res.ExitCode = ee.ExitStatus()
		}
	}
	// What became of the process group, for timeouts and cancellations.
	killed := "its process group was killed"
	if e.note != "" {
		killed = "but " + e.note
	}
	var msg string
	switch {
	case fail != "":
		res.Error, res.ExitCode, res.Signal = wire.ErrStartFailed, -1, ""
		msg = startFailure(fail, h, prog)
	case e.why == wire.ErrTimeout && e.deadline:
		res.Error = wire.ErrTimeout
		msg = fmt.Sprintf("Stopped on %s when the caller's deadline passed; %s.", h.Name, killed)
	case e.why == wire.ErrTimeout:
		res.Error = wire.ErrTimeout
		msg = fmt.Sprintf("Timed out after %v on %s; %s. Give the task a longer timeout if it needs one.", e.timeout, h.Name, killed)
	case e.why == wire.ErrCancelled && e.closed:
		res.Error = wire.ErrCancelled
		msg = fmt.Sprintf("Cancelled on %s because the SSH pool was closed; %s.", h.Name, killed)
	case e.why == wire.ErrCancelled:
		res.Error = wire.ErrCancelled
		msg = fmt.Sprintf("Cancelled on %s; %s.", h.Name, killed)
	case e.waitErr != nil && ee == nil:
		res.Error = wire.ErrNodeLost
		if e.alive {
			msg = fmt.Sprintf("The SSH session on %s ended without an exit status; the command may not have finished.", h.Name)
		} else {
			msg = fmt.Sprintf("The SSH connection to %s was lost while the command ran; it may still be running there until its watchdog kills it %v after its timeout.", h.Name, watchdogGrace)
		}
	}
	res.Message = msg
}

// startFailure explains a "fail" control line.
func startFailure(fail string, h Host, prog *program) string {
	switch fail {
	case failCwdMissing:
		return fmt.Sprintf("Cannot change to directory %q on %s: it does not exist.", prog.cwd, h.Name)
	case failCwdNotDir:
		return fmt.Sprintf("Cannot change to directory %q on %s: it is not a directory.", prog.cwd, h.Name)
	case failCwdDenied:
		return fmt.Sprintf("Cannot change to directory %q on %s: permission denied.", prog.cwd, h.Name)
	case failNotFound:
		return fmt.Sprintf("Program %q not found on %s (in the PATH of %s's login).", prog.argv[0], h.Name, h.User)
	}
	return fmt.Sprintf("The command did not start on %s (%s).", h.Name, fail)
}

// signalName spells an SSH signal name ("KILL") as Go's unix.SignalName
// does ("SIGKILL").
func signalName(sig string) string {
	if strings.HasPrefix(sig, "SIG") {
		return sig
	}
	return "SIG" + sig
}
