package sshd

import "syscall"

// dieWithParent has the kernel kill sshd should the test process die
// without its cleanups (a panic, a killed go test).
func dieWithParent(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGKILL }
