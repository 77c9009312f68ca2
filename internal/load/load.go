// Package load samples a machine's load (CPU %, memory %, load averages, CPU
// count) with gopsutil, for node heartbeats.
package load

import (
	"runtime"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
)

// Sample is one reading of a machine's load.
type Sample struct {
	CPUPercent float64
	MemPercent float64
	Load1      float64
	Load5      float64
	Load15     float64
	CPUs       int
}

// Source produces load samples. Implementations need not be safe for
// concurrent use: a node samples from one goroutine.
type Source interface {
	Sample() Sample
}

// System samples this machine. CPU % is measured since the previous call, so
// one System should be sampled by one goroutine at a regular interval.
type System struct{}

// Sample implements Source. Readings that fail on this platform are zero.
func (System) Sample() Sample {
	s := Sample{CPUs: runtime.NumCPU()}
	if p, err := cpu.Percent(0, false); err == nil && len(p) > 0 {
		s.CPUPercent = p[0]
	}
	if v, err := mem.VirtualMemory(); err == nil {
		s.MemPercent = v.UsedPercent
	}
	if a, err := load.Avg(); err == nil {
		s.Load1, s.Load5, s.Load15 = a.Load1, a.Load5, a.Load15
	}
	return s
}

// Fixed is a Source that always returns the same sample: for tests and demos
// that need a node to look loaded or idle.
type Fixed Sample

// Sample implements Source.
func (f Fixed) Sample() Sample { return Sample(f) }
