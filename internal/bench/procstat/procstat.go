// Package procstat reads what the operating system counts of a process:
// CPU time and resident memory, of this process, of another one (Linux),
// and of the calling thread, for measurements that must not be fooled by
// other work on the machine.
package procstat

import (
	"errors"
	"time"
)

// ErrUnsupported is returned where this OS does not offer a reading.
var ErrUnsupported = errors.New("not supported on this OS")

// Usage is a process's CPU time so far and its memory.
type Usage struct {
	// CPU is user plus system time.
	CPU time.Duration
	// RSS is the resident set now; PeakRSS the highest it has been (since
	// the start, or since ResetPeak). Bytes.
	RSS, PeakRSS int64
}

// MiB converts bytes to MiB.
func MiB(b int64) float64 { return float64(b) / (1 << 20) }
