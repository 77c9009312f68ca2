package fabrictest

import (
	"testing"
	"time"
)

// Eventually polls cond until it holds, failing the test, with what, if it
// still does not after within. The polls start a few milliseconds apart
// and slow to a tenth of a second, so a cheap condition is seen at once
// and an expensive one (a process, a request) does not hog the machine.
// Call it from the test's own goroutine.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	pause := 5 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(pause)
		pause = min(2*pause, 100*time.Millisecond)
	}
}
