// Package fabrictest holds what the tests of many packages share: a leak
// check for TestMain and (as they move here) starters for a hub, a
// connection, a node and sshd, and a condition poller. It is imported by
// tests only; no shipped binary links it.
package fabrictest

import (
	"flag"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Main runs the package's tests, then fails the run if goroutines outlive
// them: every watch, waiter, connection, hub and worker a test starts must
// be gone by the end. Call it from TestMain:
//
//	func TestMain(m *testing.M) { fabrictest.Main(m) }
func Main(m *testing.M, opts ...goleak.Option) {
	code := m.Run()
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		os.Exit(code) // the fuzzing engine keeps goroutines of its own
	}
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			os.Stderr.WriteString("fabrictest: goroutines outlived the tests: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
