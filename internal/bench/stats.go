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
