//go:build !unix

package runner

import (
	"os"
	"os/exec"

	"github.com/fabric-run/fabric/internal/wire"
)

// setProcessGroup is a no-op where process groups do not exist.
func setProcessGroup(cmd *exec.Cmd) {}

// killGroup kills the process itself where there are no process groups.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}

// exitStatus fills the exit code from the process state.
func exitStatus(res *wire.Result, ps *os.ProcessState, waitErr error) {
	if ps != nil {
		res.ExitCode = ps.ExitCode()
	} else if waitErr != nil && res.Error == wire.ErrNone {
		res.Error, res.Message, res.ExitCode = wire.ErrStartFailed, waitErr.Error(), -1
	}
}

// executable is false where the direct path is not supported.
func executable(string) bool { return false }

// isBash is false where the direct path is not supported.
func isBash(string) bool { return false }

// GroupAlive is false where process groups do not exist.
func GroupAlive(int) bool { return false }
