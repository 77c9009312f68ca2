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
	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/router"
	"github.com/fabric-run/fabric/internal/sshexec"
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
	c := newCluster(t, Config{SSHNodes: nodes, SSH: cfg}, worker.Config{Name: "w1", OS: "linux", Arch: "amd64", Load: worker.FixedLoad{CPUs: 4}})
	return c, sshd
}

// TestRoutesToTheSSHNodeWhenItIsTheOnlyMatch: only the SSH-only machine has
// the capability; the task runs there, over SSH, and says so.
func TestRoutesToTheSSHNodeWhenItIsTheOnlyMatch(t *testing.T) {
	c, _ := sshCluster(t, inventory.Node{Name: "nas", OS: "linux", Arch: "amd64", Capabilities: []string{"raid"}})
	st := run(t, c.svc, withReq("echo via-ssh; echo err >&2; exit 3", wire.Requirements{Capabilities: []string{"raid"}}))
	if st.Record.Node != "nas" || st.Record.Via != wire.ViaSSH || st.Result.Stdout != "via-ssh\n" || st.Result.Stderr != "err\n" || st.Result.ExitCode != 3 {
		t.Fatalf("outcome %s via %s: %+v", st.Record.Node, st.Record.Via, st.Result)
	}
	if !strings.Contains(st.Record.Reason, "nas (via ssh)") || !strings.Contains(st.Record.Reason, "w1 lacks raid") {
		t.Errorf("reason %q", st.Record.Reason)
	}
	// The front end recorded the result: nobody else could.
	if _, res, err := c.svc.Store().Get(context.Background(), st.Record.ID); err != nil || res == nil || res.Stdout != "via-ssh\n" {
		t.Fatalf("stored result %+v, %v", res, err)
	}
	// An unattended task (its submitter leaves) may not go over SSH.
	unattended := withReq("true", wire.Requirements{Capabilities: []string{"raid"}})
	unattended.Unattended = true
	_, err := c.svc.Run(context.Background(), unattended, nil)
	if !errors.Is(err, router.ErrNoMatch) || !strings.Contains(err.Error(), "nas is reached over ssh") {
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
	nodes := c.svc.Nodes(context.Background())
	got := map[string]registry.Node{}
	for _, n := range nodes {
		if _, dup := got[n.Node]; dup {
			t.Fatalf("node %s listed twice", n.Node)
		}
		got[n.Node] = n
	}
	if n := got["nas"]; n.Via != "ssh" || n.Health != registry.HealthReady || n.CPUs == 0 || n.Seen.IsZero() {
		t.Errorf("nas = %+v", n)
	}
	if n := got["gone"]; n.Via != "ssh" || n.Health != registry.HealthUnreachable || !strings.Contains(n.Reason, "connection refused") {
		t.Errorf("gone = %+v", n)
	}
	if n := got["w1"]; n.Via != "nats" {
		t.Errorf("w1 = %+v, want via nats", n)
	}
	_, err := c.svc.Run(context.Background(), withReq("true", wire.Requirements{Capabilities: []string{"tape"}}), nil)
	if !errors.Is(err, router.ErrNoMatch) || !strings.Contains(err.Error(), "gone is unreachable over ssh") {
		t.Fatalf("err = %v", err)
	}
}

// TestOffloadToSSHNodeByName: a task for the SSH node by name runs there;
// its probe also found the programs it has (make), as a worker would.
func TestOffloadToSSHNodeByName(t *testing.T) {
	c, _ := sshCluster(t, inventory.Node{Name: "box", OS: "linux", Arch: "amd64"})
	st := run(t, c.svc, withReq("uname -s", wire.Requirements{Node: "box"}))
	if st.Record.Node != "box" || st.Result.Stdout != "Linux\n" {
		t.Fatalf("outcome %s: %+v", st.Record.Node, st.Result)
	}
	var box registry.Node
	for _, n := range c.svc.Nodes(context.Background()) {
		if n.Node == "box" {
			box = n
		}
	}
	if !strings.Contains(strings.Join(box.Capabilities, ","), "make") {
		t.Errorf("capabilities detected over ssh = %v (this machine has make)", box.Capabilities)
	}
}
