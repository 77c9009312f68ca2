package fabrictest

import (
	"os"
	"testing"
)

// Need is the rule for a real part of the machine a test exercises (sshd,
// iproute2's ip and network namespaces, a browser): with err nil the part
// is there and the test goes on. Otherwise the test skips, loudly, naming
// the part and what is wrong, except under CI (CI=true), which promises
// every part: there a missing one fails the test instead of hiding it.
func Need(t testing.TB, part string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("MISSING under CI=true: %s: %v", part, err)
	}
	t.Skipf("SKIPPING: %s: %v (CI=true would fail this test)", part, err)
}
