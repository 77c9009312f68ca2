//go:build !unix

package hub

import (
	"errors"
	"os/exec"
)

// StoreLock is a held lock on the local hub store.
type StoreLock struct{}

// Acquire is not supported here: a local hub needs a configured server.
func (p Local) Acquire() (*StoreLock, error) {
	return nil, errors.New("the local hub is not supported on this OS; set FABRIC_SERVER")
}

// Release does nothing.
func (l *StoreLock) Release() {}

func processAlive(pid int) bool { return false }

func detach(cmd *exec.Cmd) {}
