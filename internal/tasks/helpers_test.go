package tasks

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/wire"
)

// sampleRecord returns a typical record of task id.
func sampleRecord(id string) *Record {
	return &Record{
		ID:       id,
		Command:  "make test",
		Cwd:      "/src",
		Requires: wire.Requirements{OS: "linux", Arch: "amd64", Capabilities: []string{"docker"}},
		Via:      wire.ViaNATS,
		Reason:   "heavy command: least-loaded linux node",
	}
}

// sampleResult returns a typical result of task id.
func sampleResult(id string) *wire.Result {
	return &wire.Result{
		ID:          id,
		Node:        "n1",
		ExitCode:    0,
		Stdout:      "ok\n",
		Stderr:      "warning: x\n",
		StdoutBytes: 3,
		StderrBytes: 11,
		Started:     time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC),
		Duration:    wire.Duration(1500 * time.Millisecond),
	}
}

// ctxT returns a context that ends with the test or after 10 seconds.
func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// clock is a settable clock for the memory store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
