package frontend

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/inventory"
	"github.com/fabric-run/fabric/internal/router"
	"github.com/fabric-run/fabric/internal/sshexec"
	"github.com/fabric-run/fabric/internal/sshnodes"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

// sshCluster is a front end with one worker ("w1") and the given SSH-only
// machines, all of which are the one real loopback sshd unless dead.
func sshCluster(t *testing.T, nodes ...inventory.Node) (*testCluster, *fabrictest.SSHD) {
	t.Helper()
	sshd := fabrictest.StartSSHD(t, fabrictest.SSHDOptions{})
	for i := range nodes {
		if nodes[i].Port == 0 {
			nodes[i].Port = sshd.Port
		}
		nodes[i].Host = "127.0.0.1"
		if nodes[i].Slots == 0 {
			nodes[i].Slots = 2
		}
	}
	cfg := sshexec.DefaultConfig()
	cfg.KnownHostsFile = filepath.Join(t.TempDir(), "known_hosts")
	cfg.IdentityFiles = []string{sshd.ClientKey}
	cfg.AgentSocket = ""
	cfg.Retries = 0
	cfg.ConnectTimeout = time.Second
	ssh, err := sshnodes.New(sshnodes.Config{Nodes: nodes, SSH: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ssh.Close() })
	c := newCluster(t, Config{SSH: ssh}, worker.Config{Name: "w1", OS: "linux", Arch: "amd64", Load: worker.FixedLoad{CPUs: 4}})
	return c, sshd
}

// TestRoutesToTheSSHNodeWhenItIsTheOnlyMatch: only the SSH-only machine has
// the capability; the task runs there, over SSH, and says so.
func TestRoutesToTheSSHNodeWhenItIsTheOnlyMatch(t *testing.T) {
	c, _ := sshCluster(t, inventory.Node{Name: "nas", OS: "linux", Arch: "amd64", Capabilities: []string{"raid"}})
	out := run(t, c.fe, Request{Command: "echo via-ssh; echo err >&2; exit 3", Requires: wire.Requirements{Capabilities: []string{"raid"}}})
	if out.Node != "nas" || out.Result.Stdout != "via-ssh\n" || out.Result.Stderr != "err\n" || out.Result.ExitCode != 3 {
		t.Fatalf("outcome %s: %+v", out.Node, out.Result)
	}
	if !strings.Contains(out.Decision.Reason, "nas (via ssh)") || !strings.Contains(out.Decision.Reason, "w1 lacks raid") {
		t.Errorf("reason %q", out.Decision.Reason)
	}
	// An unattended task (its submitter leaves) may not go over SSH.
	_, err := c.fe.Run(context.Background(), Request{Command: "true", Requires: wire.Requirements{Capabilities: []string{"raid"}}, Unattended: true}, Hooks{})
	if !errors.Is(err, router.ErrNoMatch) {
		t.Fatalf("unattended err = %v", err)
	}
}

func TestNodesShowsSSHNodesAndTheirHealth(t *testing.T) {
	dead := fabrictest.FreePort(t) // nothing listens there
	c, _ := sshCluster(t,
		inventory.Node{Name: "nas", OS: "linux", Arch: "amd64"},
		inventory.Node{Name: "gone", OS: "linux", Arch: "amd64", Port: dead, Capabilities: []string{"tape"}},
		inventory.Node{Name: "w1", OS: "linux", Arch: "amd64"}, // runs a worker: reached through it
	)
	nodes := c.fe.Nodes(context.Background())
	got := map[string]NodeInfo{}
	for _, n := range nodes {
		if _, dup := got[n.ID]; dup {
			t.Fatalf("node %s listed twice", n.ID)
		}
		got[n.ID] = n
	}
	if n := got["nas"]; n.Via != "ssh" || n.State != "ready" || n.CPUs == 0 || n.LastSeen.IsZero() {
		t.Errorf("nas = %+v", n)
	}
	if n := got["gone"]; n.Via != "ssh" || n.State != "unreachable" || !strings.Contains(n.Reason, "connection refused") {
		t.Errorf("gone = %+v", n)
	}
	if n := got["w1"]; n.Via != "nats" {
		t.Errorf("w1 = %+v, want via nats", n)
	}
	_, err := c.fe.Run(context.Background(), Request{Command: "true", Requires: wire.Requirements{Capabilities: []string{"tape"}}}, Hooks{})
	if !errors.Is(err, router.ErrNoMatch) || !strings.Contains(err.Error(), "gone is unreachable over ssh") {
		t.Fatalf("err = %v", err)
	}
}

// TestOffloadToSSHNodeByName: a task for the SSH node by name runs there;
// its probe also found the programs it has (make), as a worker would.
func TestOffloadToSSHNodeByName(t *testing.T) {
	c, _ := sshCluster(t, inventory.Node{Name: "box", OS: "linux", Arch: "amd64"})
	out := run(t, c.fe, Request{Command: "uname -s", Requires: wire.Requirements{Node: "box"}})
	if out.Node != "box" || out.Result.Stdout != "Linux\n" {
		t.Fatalf("outcome %s: %+v", out.Node, out.Result)
	}
	var box NodeInfo
	for _, n := range c.fe.Nodes(context.Background()) {
		if n.ID == "box" {
			box = n
		}
	}
	if !strings.Contains(strings.Join(box.Capabilities, ","), "make") {
		t.Errorf("capabilities detected over ssh = %v (this machine has make)", box.Capabilities)
	}
}
