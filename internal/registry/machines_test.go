package registry

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/wire"
)

// machine is an SSH machine's row as its last probe gave it.
func machine(name, reason string, seen time.Time) Node {
	return Node{Heartbeat: wire.Heartbeat{Node: name, Hostname: name + ".lan", OS: "linux", Arch: "amd64",
		Capabilities: []string{"any", "raid"}, CPUs: 2, Slots: 2, Load1: 0.5}, Seen: seen, Reason: reason}
}

// TestSSHMachinesAreRows: an SSH machine is a row of the table like a
// worker, reached via ssh, ready or unreachable by its last probe, never
// stale or forgotten for want of heartbeats, and never this machine's
// local node. A worker heartbeating under its name takes its row (the
// machine is then reached through the worker); once that worker is
// forgotten, the machine's row is back.
func TestSSHMachinesAreRows(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	h := fabrictest.StartHub(t, hub.Config{})
	r := New(fabrictest.Connect(t, h.ClientURL()), Config{Now: c.Now, GoneAfter: time.Minute})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	r.Probed(machine("nas", "", c.Now()))
	r.Probed(machine("gone", "connection refused", c.Now()))
	n, ok := r.Get("nas")
	if !ok || n.Via != wire.ViaSSH || n.Health != HealthReady || n.Hostname != "nas.lan" {
		t.Fatalf("nas = %+v", n)
	}
	if n, _ := r.Get("gone"); n.Health != HealthUnreachable || n.Reason != "connection refused" {
		t.Fatalf("gone = %+v", n)
	}
	if _, hosts := r.OnHost("nas.lan"); hosts != 0 {
		t.Fatal("an SSH machine counts as a node on its host")
	}
	r.SetRunning("nas", 1)
	if n, _ := r.Get("nas"); n.Running != 1 {
		t.Fatalf("running on nas = %d", n.Running)
	}

	// Silence: the reaper runs, nothing changes for the machines.
	c.Add(5 * time.Minute)
	r.Observe(hb("w", "1", wire.StateReady)) // something to wait for
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n, _ := r.Get("nas"); n.Health != HealthReady {
		t.Fatalf("nas after 5 silent minutes: %s", n.Health)
	}

	// A worker named nas takes the row; a probe of the machine leaves it.
	w := hb("nas", "1", wire.StateReady)
	w.Hostname = "nas-host"
	r.Observe(w)
	r.Probed(machine("nas", "connection refused", c.Now()))
	if n, _ := r.Get("nas"); n.Via != wire.ViaNATS || n.Health != HealthReady {
		t.Fatalf("nas with a worker = %+v", n)
	}
	if id, hosts := r.OnHost("nas-host"); hosts != 1 || id != "nas" {
		t.Fatalf("OnHost(nas-host) = %s, %d", id, hosts)
	}

	// The worker falls silent and is forgotten: the machine is back, as
	// last probed.
	c.Add(2 * time.Minute)
	err := r.WaitFor(ctx, func(ns []Node) bool {
		for _, n := range ns {
			if n.Node == "nas" {
				return n.Via == wire.ViaSSH
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("nas not back as an SSH machine: %v", r.Snapshot())
	}
	if n, _ := r.Get("nas"); n.Health != HealthUnreachable || !strings.Contains(n.Reason, "refused") {
		t.Fatalf("nas back = %+v", n)
	}
	snap := r.Snapshot()
	if len(snap) != 2 || snap[0].Via != wire.ViaSSH {
		t.Fatalf("snapshot = %+v", snap)
	}
}
