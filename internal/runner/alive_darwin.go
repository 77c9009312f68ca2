package runner

import "golang.org/x/sys/unix"

// sZomb is a zombie's p_stat in darwin's <sys/proc.h>.
const sZomb = 5

// Alive reports whether process pid exists and is not a zombie. Tests use it
// to check that a kill reached everything.
func Alive(pid int) bool {
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil || kp.Proc.P_pid != int32(pid) {
		return false // no such process (the kernel returns nothing for it)
	}
	return kp.Proc.P_stat != sZomb
}
