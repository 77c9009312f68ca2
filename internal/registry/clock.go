package registry

import "time"

// clockWindow is how many recent heartbeats a node's clock offset is
// estimated from.
const clockWindow = 8

// clockEstimate estimates how far a node's clock is ahead of this front
// end's from the times its heartbeats carry: each heartbeat gives the offset
// minus its own transit time, so the largest of the recent ones (the least
// delayed) is the best estimate; keeping only the recent ones follows a
// clock that was set back.
type clockEstimate struct {
	instance string
	samples  [clockWindow]time.Duration
	n, next  int
}

// add takes the sample of a heartbeat of instance sent at sent (node clock)
// and seen at seen (front end clock). A new instance starts afresh.
func (c *clockEstimate) add(instance string, sent, seen time.Time) {
	if sent.IsZero() {
		return
	}
	if instance != c.instance {
		*c = clockEstimate{instance: instance}
	}
	c.samples[c.next] = sent.Sub(seen)
	c.next = (c.next + 1) % clockWindow
	c.n = min(c.n+1, clockWindow)
}

// offset returns the estimate; zero with no sample.
func (c *clockEstimate) offset() time.Duration {
	if c.n == 0 {
		return 0
	}
	best := c.samples[0]
	for _, s := range c.samples[1:c.n] {
		best = max(best, s)
	}
	return best
}
