package cli

import (
	"os"

	"golang.org/x/sys/unix"
)

// pipeBuffered is how many bytes wait in the pipe f (0 if unknown).
func pipeBuffered(f *os.File) int {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	_ = rc.Control(func(fd uintptr) {
		n, _ = unix.IoctlGetInt(int(fd), unix.TIOCINQ)
	})
	return n
}
