package worker_test

import (
	"runtime"
	"testing"

	"github.com/fabric-run/fabric/internal/worker"
)

func TestSystemLoadSample(t *testing.T) {
	var s worker.SystemLoad
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
