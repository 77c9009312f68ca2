//go:build unix

package sshd

import "syscall"

// ownGroup puts sshd in a process group of its own, so that Stop can kill
// it with every connection process it started.
func ownGroup() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true}
	dieWithParent(attr)
	return attr
}

// killPID kills one process.
func killPID(pid int) { _ = syscall.Kill(pid, syscall.SIGKILL) }

// killGroup kills process group pgid.
func killGroup(pgid int) { _ = syscall.Kill(-pgid, syscall.SIGKILL) }

// resumeAndKill kills a process, resuming it first should a test have
// stopped it.
func resumeAndKill(pid int) {
	_ = syscall.Kill(pid, syscall.SIGCONT)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}
