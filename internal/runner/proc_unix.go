//go:build unix

package runner

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/fabric-run/fabric/internal/wire"
)

// setProcessGroup makes the command the leader of a new process group, so
// that killing the group reaches everything it started.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup sends SIGKILL to the command's whole process group.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	// The group id is the leader's pid. ESRCH means all are gone already.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

// exitStatus fills the exit code and signal from the process state.
func exitStatus(res *wire.Result, ps *os.ProcessState, waitErr error) {
	if ps == nil {
		if waitErr != nil && res.Error == wire.ErrNone {
			res.Error, res.Message, res.ExitCode = wire.ErrStartFailed, waitErr.Error(), -1
		}
		return
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		res.Signal = unix.SignalName(ws.Signal())
		res.ExitCode = 128 + int(ws.Signal())
		return
	}
	res.ExitCode = ps.ExitCode()
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) && res.Error == wire.ErrNone {
		res.Error, res.Message = wire.ErrStartFailed, waitErr.Error()
	}
}

// executable reports whether path is a regular file this process may
// execute (as the shell checks, with the effective ids).
func executable(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	return unix.Faccessat(unix.AT_FDCWD, path, unix.X_OK, unix.AT_EACCESS) == nil
}

// isBash reports whether shell is bash, the only shell whose start-up the
// direct path reproduces.
func isBash(shell string) bool { return filepath.Base(shell) == "bash" }

// GroupAlive reports whether any process is left in process group pgid.
func GroupAlive(pgid int) bool {
	return !errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
}
