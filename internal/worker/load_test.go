package worker

import (
	"runtime"
	"testing"
)

func TestSystemLoadSample(t *testing.T) {
	var s SystemLoad
	s.Sample()
	got := s.Sample()
	if got.CPUs != runtime.NumCPU() {
		t.Errorf("CPUs = %d", got.CPUs)
	}
	if got.MemPercent <= 0 || got.MemPercent > 100 {
		t.Errorf("MemPercent = %v", got.MemPercent)
	}
	if got.CPUPercent < 0 || got.CPUPercent > 100 {
		t.Errorf("CPUPercent = %v", got.CPUPercent)
	}
}
