//go:build unix

package e2e

import (
	"encoding/json"
	"net"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/fabrictest"
)

// TestServeClusterFailover: two `fabric serve` processes joined as a NATS
// cluster by their flags and variables, a node on them, front ends on the
// other server; the server a node may be on stops and everything goes on
// through the other URL.
func TestServeClusterFailover(t *testing.T) {
	a, urlA, routeA := startSeedServer(t, "a")
	_, urlB := startServe(t, []string{"FABRIC_CLUSTER_NAME=e2e", "FABRIC_ROUTES=nats-route://" + routeA},
		"--server-name", "b", "--cluster-listen", "127.0.0.1:0")
	testFailover(t, a, urlA, urlB)
}

// TestServeLeafFailover: a `fabric serve` hub joins another as a leaf node;
// a node on the leaf, front ends on the other; the leaf stops and the node
// and front ends go on through the other URL.
func TestServeLeafFailover(t *testing.T) {
	sys, urlSys := startServe(t, nil, "--server-name", "system", "--leaf-listen", "127.0.0.1:0")
	leafAddr := sys.waitOutput(t, `server system accepting leaf nodes on (127\.0\.0\.1:\d+)`)
	leaf, urlLeaf := startServe(t, []string{"FABRIC_LEAF_REMOTES=nats-leaf://" + leafAddr}, "--server-name", "leaf")
	leaf.waitOutput(t, `server leaf joining \[nats-leaf://127\.0\.0\.1:\d+\] as a leaf node`)
	testFailover(t, leaf, urlLeaf, urlSys)
}

// testFailover runs a node given both URLs (first's first), checks that a
// front end on second alone reaches it, stops first, and checks that a
// front end given both URLs reaches the node again.
func testFailover(t *testing.T, first *proc, urlFirst, urlSecond string) {
	node := startNode(t, urlFirst+","+urlSecond, "--name", "n")
	// The client picks one of the URLs at random.
	onFirst := node.waitOutput(t, `node running.* server=(nats://[0-9.:]+)`) == urlFirst
	t.Logf("node on the server that stops: %v", onFirst)
	waitNodeReady(t, urlSecond, "n")
	out, errOut, code := fabric(t, []string{"FABRIC_SERVER=" + urlSecond}, "run", "--node", "n", "--", "echo across")
	if code != 0 || out != "across\n" {
		t.Fatalf("run across servers: code %d, stdout %q, stderr %q", code, out, errOut)
	}

	first.signal(syscall.SIGTERM)
	if code := first.wait(t); code != 0 {
		t.Fatalf("first server exited %d", code)
	}
	if onFirst {
		node.waitOutput(t, `reconnected to NATS.*url=`+regexp.QuoteMeta(urlSecond))
	}
	both := urlFirst + "," + urlSecond
	waitNodeReady(t, both, "n")
	out, errOut, code = fabric(t, []string{"FABRIC_SERVER=" + both}, "run", "--node", "n", "--", "echo after-failover")
	if code != 0 || out != "after-failover\n" {
		t.Fatalf("run after failover: code %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// startServe runs `fabric serve` on a random loopback port with a store of
// its own and returns it and its client URL.
func startServe(t *testing.T, env []string, args ...string) (*proc, string) {
	t.Helper()
	env = append([]string{"FABRIC_STATE_DIR=" + t.TempDir()}, env...)
	p := start(t, env, bin.fabric, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	return p, p.waitOutput(t, `hub listening on (nats://127\.0\.0\.1:\d+)`)
}

// startSeedServer starts the first server of a cluster. A JetStream cluster
// starts only with routes configured, and the first server's route is its
// own: its route port is chosen here, and chosen again should another
// process take it between the choice and the listen.
func startSeedServer(t *testing.T, name string) (p *proc, url, route string) {
	t.Helper()
	for range 5 {
		route = net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
		p = start(t, []string{"FABRIC_STATE_DIR=" + t.TempDir()}, bin.fabric, "serve", "--listen", "127.0.0.1:0",
			"--server-name", name, "--cluster-name", "e2e", "--cluster-listen", route, "--routes", "nats-route://"+route)
		m, ok := p.waitOutputOrExit(t, `hub listening on (nats://127\.0\.0\.1:\d+)`)
		if ok {
			p.waitOutput(t, `server `+name+` accepting routes of cluster e2e on `+regexp.QuoteMeta(route))
			return p, m, route
		}
		if !strings.Contains(p.output(), "address already in use") {
			t.Fatalf("seed server exited: %s", p.output())
		}
	}
	t.Fatal("no free route port in 5 tries")
	return nil, "", ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// nodesJSON is what the tests read of `fabric nodes --json`.
type nodesJSON struct {
	Nodes []struct {
		ID    string `json:"id"`
		State string `json:"state"`
	} `json:"nodes"`
}

// nodeStates runs `fabric nodes --json` with env and returns each node's
// state.
func nodeStates(t *testing.T, env []string, prefix ...string) map[string]string {
	t.Helper()
	out, errOut, code := run(t, env, append(prefix, bin.fabric, "nodes", "--json")...)
	var ns nodesJSON
	if code != 0 || json.Unmarshal([]byte(out), &ns) != nil {
		t.Fatalf("fabric nodes --json: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	states := map[string]string{}
	for _, n := range ns.Nodes {
		states[n.ID] = n.State
	}
	return states
}

// waitNodeReady polls `fabric nodes --json` on servers until node is ready.
func waitNodeReady(t *testing.T, servers, node string) {
	t.Helper()
	env := []string{"FABRIC_SERVER=" + servers}
	fabrictest.Eventually(t, 30*time.Second, "node "+node+" ready on "+servers, func() bool {
		return nodeStates(t, env)[node] == "ready"
	})
}
