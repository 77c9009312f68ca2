package frontend

import (
	"context"
	"time"

	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/router"
	"github.com/fabric-run/fabric/internal/sshnodes"
)

// NodeInfo is one node as status views show it, however it is reached.
type NodeInfo struct {
	ID           string     `json:"id"`
	Hostname     string     `json:"hostname,omitempty"`
	OS           string     `json:"os"`
	Arch         string     `json:"arch"`
	Capabilities []string   `json:"capabilities"`
	CPUPercent   float64    `json:"cpu_percent"`
	MemPercent   float64    `json:"mem_percent"`
	Load         [3]float64 `json:"load"`
	CPUs         int        `json:"cpus"`
	Running      int        `json:"running"`
	Slots        int        `json:"slots"`
	// State is ready, draining, leaving, stale (workers) or unreachable (SSH).
	State string `json:"state"`
	// Via is "nats" for a worker, "ssh" for an SSH-only machine.
	Via string `json:"via"`
	// LastSeen is the last heartbeat, or for SSH the last probe.
	LastSeen time.Time `json:"last_seen"`
	// Reason says why an SSH node is unreachable.
	Reason  string `json:"reason,omitempty"`
	Version string `json:"version,omitempty"`
	Local   bool   `json:"local,omitempty"`
}

// Nodes returns every node of the cluster: workers from their heartbeats,
// then SSH-only machines from their probes (waiting, up to the sync bound,
// for machines never probed).
func (f *Frontend) Nodes(ctx context.Context) []NodeInfo {
	local := f.Local()
	snap := f.reg.Snapshot()
	out := make([]NodeInfo, 0, len(snap))
	workers := map[string]bool{}
	for _, n := range snap {
		workers[n.Node] = true
		out = append(out, workerInfo(n, local))
	}
	if f.cfg.SSH == nil {
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.SyncMax)
	defer cancel()
	for _, in := range f.cfg.SSH.Infos(ctx) {
		if workers[in.Node.Name] {
			continue // reached through its worker
		}
		c := sshnodes.Candidate(in)
		state := "ready"
		if !in.Reachable {
			state = "unreachable"
		}
		out = append(out, NodeInfo{
			ID: c.ID, Hostname: in.Node.Host, OS: c.OS, Arch: c.Arch, Capabilities: c.Capabilities,
			CPUPercent: c.CPUPercent, MemPercent: c.MemPercent, Load: [3]float64{in.Load.Load1, in.Load.Load5, in.Load.Load15},
			CPUs: c.CPUs, Running: c.Running, Slots: c.Slots, State: state, Via: router.ViaSSH,
			LastSeen: in.Probed, Reason: in.Reason,
		})
	}
	return out
}

func workerInfo(n registry.Node, local string) NodeInfo {
	return NodeInfo{
		ID: n.Node, Hostname: n.Hostname, OS: n.OS, Arch: n.Arch, Capabilities: n.Capabilities,
		CPUPercent: n.CPUPercent, MemPercent: n.MemPercent, Load: [3]float64{n.Load1, n.Load5, n.Load15},
		CPUs: n.CPUs, Running: n.Running, Slots: n.Slots, State: string(n.Health), Via: router.ViaNATS,
		LastSeen: n.Seen, Version: n.Version, Local: n.Node == local,
	}
}
