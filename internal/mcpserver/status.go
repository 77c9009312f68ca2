package mcpserver

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/subjects"
)

// ViaWorker is how cluster_status says a node running the fabric worker is
// reached: the tool's own word for wire.ViaNATS, kept on purpose (agents
// read "worker" or "ssh"; "nats" names the transport, not the kind of
// machine). Machines of the config file that run no worker say wire.ViaSSH.
const ViaWorker = "worker"

// recordsNote says where task records are kept and what that means.
func (s *Server) recordsNote() string {
	switch b := s.service().Store().Backend(); b {
	case tasks.BackendMemory:
		return "records are kept in memory only: they do not outlive this MCP server, so task ids from before it started are unknown here, and a task still running when it exits loses its record."
	case tasks.BackendJetStream:
		return "records are kept in JetStream by the hub: any fabric front end on this cluster can read a task by id, after this session ends too (for 7 days unless configured otherwise)."
	default:
		return "records are kept in " + b + "."
	}
}

func (s *Server) handleClusterStatus(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var none struct{}
	if err := bind(req, &none); err != nil {
		return argError(ToolClusterStatus, err), nil
	}
	local := s.service().Local()
	v := ClusterView{
		LocalNode:         local,
		Server:            nonEmpty(s.attached.Load().server, "(unknown)"),
		Records:           RecordsView{Backend: s.service().Store().Backend(), Note: s.recordsNote()},
		SyncBudgetSeconds: s.cfg.SyncBudget.Seconds(),
		Nodes:             []NodeView{},
	}
	now := time.Now()
	for _, n := range s.service().Nodes(ctx) {
		via := ViaWorker
		if n.Via == wire.ViaSSH {
			via = wire.ViaSSH
		}
		nv := NodeView{
			ID: n.Node, Hostname: n.Hostname, OS: n.OS, Arch: n.Arch, Capabilities: subjects.WithoutAny(n.Capabilities),
			CPUPercent: round1(n.CPUPercent), MemPercent: round1(n.MemPercent),
			Load1: round2(n.Load1), Load5: round2(n.Load5), Load15: round2(n.Load15), CPUs: n.CPUs,
			Running: n.Running, Slots: n.Slots, State: string(n.Health),
			Via: via, Version: n.Version, Local: n.Node == local, Reason: n.Reason,
			GPUs: n.GPUs, GPUsFree: n.GPUsFree, Full: n.Full,
		}
		if !n.Seen.IsZero() {
			nv.LastSeen, nv.SecondsSinceSeen = n.Seen.UTC().Format(time.RFC3339), round1(now.Sub(n.Seen).Seconds())
		}
		v.Nodes = append(v.Nodes, nv)
	}
	return answer(v.text(), v), nil
}

func (v *ClusterView) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "server: %s\n", v.Server)
	if v.LocalNode != "" {
		fmt.Fprintf(&b, "this machine's node: %s (light commands stay there)\n", v.LocalNode)
	} else {
		b.WriteString("this machine's node: none known (no node runs on this machine, or several do)\n")
	}
	fmt.Fprintf(&b, "task records: %s: %s\n", v.Records.Backend, v.Records.Note)
	fmt.Fprintf(&b, "sync budget: %s per command call\n", seconds(time.Duration(v.SyncBudgetSeconds*float64(time.Second))))
	if len(v.Nodes) == 0 {
		b.WriteString("no nodes: none is heartbeating to this server. Start one with `fabric node --server URL` (or `fabric-node`) on each machine.\n")
		return b.String()
	}
	fmt.Fprintf(&b, "%s:\n", plural(len(v.Nodes), "node"))
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tOS/ARCH\tCPU%\tMEM%\tLOAD 1/5/15\tRUN/SLOTS\tSTATE\tSEEN\tVIA\tCAPABILITIES")
	for _, n := range v.Nodes {
		id := n.ID
		if n.Local {
			id += " (local)"
		}
		fmt.Fprintf(tw, "%s\t%s/%s\t%.0f\t%.0f\t%.2f/%.2f/%.2f\t%d/%d\t%s\t%.1fs ago\t%s\t%s\n",
			id, n.OS, n.Arch, n.CPUPercent, n.MemPercent, n.Load1, n.Load5, n.Load15, n.Running, n.Slots, n.State,
			n.SecondsSinceSeen, n.Via, strings.Join(n.Capabilities, ","))
	}
	tw.Flush()
	for _, n := range v.Nodes {
		if n.Reason != "" {
			fmt.Fprintf(&b, "%s is unreachable: %s\n", n.ID, n.Reason)
		}
		if n.GPUs > 0 {
			fmt.Fprintf(&b, "%s: %d GPUs, %d free\n", n.ID, n.GPUs, n.GPUsFree)
		}
		if len(n.Full) > 0 {
			fmt.Fprintf(&b, "%s: at its limit for %s: such commands go elsewhere or wait\n", n.ID, strings.Join(n.Full, ", "))
		}
	}
	return b.String()
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
