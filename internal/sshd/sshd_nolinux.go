//go:build unix && !linux

package sshd

import "syscall"

// dieWithParent is a no-op where there is no parent-death signal.
func dieWithParent(*syscall.SysProcAttr) {}
