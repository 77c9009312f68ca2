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

// TestNodeStartedBeforeItsHub: a node whose hub is not up yet says so,
// keeps trying without a warning per heartbeat, and joins (routable) as
// soon as the hub is there.
func TestNodeStartedBeforeItsHub(t *testing.T) {
	hub, url := startHub(t)
	port := hubPort(t, url)
	hub.cmd.Process.Kill()
	hub.wait(t)

	node := start(t, nil, bin.node, "--server", url, "--no-detect", "--heartbeat", "200ms", "--name", "early")
	node.waitOutput(t, `NATS not reachable yet: retrying`)
	hub2 := start(t, nil, bin.fabric, "serve", "--listen", "127.0.0.1:"+port)
	hub2.waitOutput(t, `hub listening on nats://127\.0\.0\.1:`+port)
	node.waitOutput(t, `connected to NATS`)

	out, errOut, code := fabric(t, []string{"FABRIC_SERVER=" + url}, "run", "--node", "early", "--", "echo joined")
	if code != 0 || out != "joined\n" {
		t.Fatalf("run on the node that started first: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	if strings.Contains(node.output(), "level=WARN msg=heartbeat") || strings.Contains(node.output(), "headers not supported") {
		t.Errorf("the node warned about heartbeats while its hub was down:\n%s", node.output())
	}
}
