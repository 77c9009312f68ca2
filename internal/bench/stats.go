package bench

import (
	"slices"
	"time"
)

// quantile returns the q-quantile (0..1) of ds, nearest rank; ds is sorted
// in place.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(q*float64(len(ds))+0.5) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

// against is the latency Result of times measured against base, the
// baseline named name: the p50s and p99s of both and their ratios.
func against(measure string, times []time.Duration, name string, base []time.Duration) Result {
	p50, p99 := quantile(times, 0.5), quantile(times, 0.99)
	b50, b99 := quantile(base, 0.5), quantile(base, 0.99)
	return Result{Measure: measure, P50: p50, P99: p99, Baseline: &Baseline{Name: name, P50: b50, P99: b99},
		Ratio: ratioOf(float64(p50), float64(b50)), RatioP99: ratioOf(float64(p99), float64(b99))}
}

// verdict is StatusMet if ok, else StatusNotMet.
func verdict(ok bool) string {
	if ok {
		return StatusMet
	}
	return StatusNotMet
}

// ratioOf is a/b, or 0 when b is 0.
func ratioOf(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
