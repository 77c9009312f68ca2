package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Self returns this process's usage.
func Self() (Usage, error) { return Of(os.Getpid()) }

// Of returns the usage of process pid, from /proc.
func Of(pid int) (Usage, error) {
	var u Usage
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, fmt.Errorf("procstat: %w", err)
	}
	// Fields after the command name (which may hold spaces) in ")".
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return u, fmt.Errorf("procstat: /proc/%d/stat: unexpected format", pid)
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 13 {
		return u, fmt.Errorf("procstat: /proc/%d/stat: unexpected format", pid)
	}
	// utime and stime are fields 14 and 15 of stat, 12 and 13 here.
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return u, fmt.Errorf("procstat: /proc/%d/stat: unexpected format", pid)
	}
	u.CPU = time.Duration(ut+st) * time.Second / clockTicks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, fmt.Errorf("procstat: %w", err)
	}
	u.RSS = kbField(status, "VmRSS:")
	u.PeakRSS = kbField(status, "VmHWM:")
	return u, nil
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

func kbField(status []byte, name string) int64 {
	i := bytes.Index(status, []byte(name))
	if i < 0 {
		return 0
	}
	line := status[i+len(name):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	f := bytes.Fields(line)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(string(f[0]), 10, 64)
	return n << 10
}

// ResetPeak resets this process's peak RSS to its current RSS, so that a
// later PeakRSS is the peak of what came after.
func ResetPeak() error {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("procstat: reset peak RSS: %w", err)
	}
	return nil
}

// ThreadCPU returns the CPU time of the calling OS thread; lock the
// goroutine to its thread (runtime.LockOSThread) around what is measured.
func ThreadCPU() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, fmt.Errorf("procstat: thread CPU: %w", err)
	}
	return time.Duration(ts.Nano()), nil
}
