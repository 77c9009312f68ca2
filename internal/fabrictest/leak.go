// Package fabrictest holds what the tests of many packages share: a leak
// check for TestMain; starters for an embedded hub, a connection, an
// in-process node and a real OpenSSH sshd, each stopped when its test
// ends; a condition poller; and the rule for a real part this machine
// lacks (Need). It is imported by tests only; no shipped binary links it.
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
func Main(m *testing.M, opts ...goleak.Option) { os.Exit(Run(m, opts...)) }

// Run is Main for a TestMain with work of its own after the tests: it
// returns the exit code instead of exiting.
func Run(m *testing.M, opts ...goleak.Option) int {
	code := m.Run()
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		return code // the fuzzing engine keeps goroutines of its own
	}
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			os.Stderr.WriteString("fabrictest: goroutines outlived the tests: " + err.Error() + "\n")
			code = 1
		}
	}
	return code
}
