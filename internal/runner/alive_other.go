//go:build unix && !linux && !darwin

package runner

import (
	"errors"
	"syscall"
)

// Alive reports whether process pid exists (zombies included: this
// platform has no cheap way to tell them apart). Tests use it to check
// that a kill reached everything.
func Alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
