//go:build unix

package e2e

import (
	"strings"
	"testing"
)

// TestNodeErrorIsOneLine: fabric-node says what is wrong once, as fabric
// does, without cobra's usage text or a second "Error:" line.
func TestNodeErrorIsOneLine(t *testing.T) {
	_, errOut, code := run(t, nil, bin.node)
	want := "fabric: node needs a NATS server: --server nats://HOST:4222 or FABRIC_SERVER (start one with `fabric serve`)\n"
	if code != 1 || errOut != want {
		t.Fatalf("fabric-node with no server: exit %d, stderr %q; want exit 1, %q", code, errOut, want)
	}
	_, errOut, code = run(t, nil, bin.node, "--slots", "many")
	if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, `invalid argument "many" for "--slots"`) {
		t.Fatalf("fabric-node --slots many: exit %d, stderr %q", code, errOut)
	}
}
