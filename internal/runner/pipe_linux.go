package runner

import (
	"os"

	"golang.org/x/sys/unix"
)

// growPipe asks the kernel for a pipe buffer of size bytes (the default is
// 64 KiB; unprivileged processes may go up to /proc/sys/fs/pipe-max-size,
// 1 MiB by default). Best effort: a refusal leaves the pipe as it was.
func growPipe(f *os.File, size int) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, size)
	})
}
