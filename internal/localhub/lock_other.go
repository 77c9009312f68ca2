//go:build !unix

package localhub

import (
	"errors"
	"os/exec"
)

// Lock is a held lock on the local hub store.
type Lock struct{}

// Acquire is not supported here: a local hub needs a configured server.
func (p Paths) Acquire() (*Lock, error) {
	return nil, errors.New("the local hub is not supported on this OS; set FABRIC_SERVER")
}

// Release does nothing.
func (l *Lock) Release() {}

func processAlive(pid int) bool { return false }

func detach(cmd *exec.Cmd) {}
