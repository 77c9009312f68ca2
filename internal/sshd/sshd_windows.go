package sshd

import (
	"os"
	"syscall"
)

// ownGroup is nil on Windows; Start fails there before it is used, since
// there is no OpenSSH sshd at Path.
func ownGroup() *syscall.SysProcAttr { return nil }

// killPID kills one process.
func killPID(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}

// killGroup kills the process itself: Windows has no process groups.
func killGroup(pid int) { killPID(pid) }

// resumeAndKill kills a process.
func resumeAndKill(pid int) { killPID(pid) }
