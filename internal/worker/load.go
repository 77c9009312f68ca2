package worker

// Load sampling (gopsutil) for the node's heartbeats.

import (
	"runtime"

	"github.com/shirou/gopsutil/v4/cpu"
	psload "github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
)

// LoadSample is one reading of a machine's load.
type LoadSample struct {
	CPUPercent float64
	MemPercent float64
	Load1      float64
	Load5      float64
	Load15     float64
	CPUs       int
}

// LoadSource produces load samples. Implementations need not be safe for
// concurrent use: a node samples from one goroutine.
type LoadSource interface {
	Sample() LoadSample
}

// SystemLoad samples this machine. CPU % is measured since the previous call, so
// one SystemLoad should be sampled by one goroutine at a regular interval.
type SystemLoad struct{}

// Sample implements LoadSource. Readings that fail on this platform are zero.
func (SystemLoad) Sample() LoadSample {
	s := LoadSample{CPUs: runtime.NumCPU()}
	if p, err := cpu.Percent(0, false); err == nil && len(p) > 0 {
		s.CPUPercent = p[0]
	}
	if v, err := mem.VirtualMemory(); err == nil {
		s.MemPercent = v.UsedPercent
	}
	if a, err := psload.Avg(); err == nil {
		s.Load1, s.Load5, s.Load15 = a.Load1, a.Load5, a.Load15
	}
	return s
}

// FixedLoad is a LoadSource that always returns the same sample: for tests and demos
// that need a node to look loaded or idle.
type FixedLoad LoadSample

// Sample implements LoadSource.
func (f FixedLoad) Sample() LoadSample { return LoadSample(f) }
