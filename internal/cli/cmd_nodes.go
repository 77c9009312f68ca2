package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/subjects"
)

func (a *app) nodesCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "nodes",
		Aliases: []string{"cluster-status"},
		Short:   "List the cluster's nodes with their load and health",
		Long: `List every node the cluster knows: OS, architecture, capabilities, CPU %,
memory %, load average, running tasks over slots, state (ready, draining,
leaving, stale; unreachable for SSH nodes), how it is reached (via a worker
over NATS, or via ssh for machines of the config file that run none) and when
it was last heard from (heartbeat, or SSH probe).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.openSession(cmd.Context(), a.logger(), modeOneShot)
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			defer s.close()
			nodes, local := s.svc.Nodes(cmd.Context()), s.svc.Local()
			if asJSON {
				views := make([]nodeJSON, len(nodes))
				for i := range nodes {
					views[i] = nodeView(&nodes[i], local)
				}
				return writeJSON(a.io.Stdout, map[string]any{
					"server": s.servers, "local_node": local, "records": s.store.Backend(), "nodes": views,
				})
			}
			if len(nodes) == 0 {
				fmt.Fprintf(a.io.Stderr, "fabric: no nodes answered on %s (is a node running? start one with `fabric node --server URL`)\n", s.servers)
				return nil
			}
			printNodes(a.io.Stdout, nodes, local)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// nodeJSON is a node as `fabric nodes --json` prints it.
type nodeJSON struct {
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
	// GPUs and GPUsFree are the GPU devices the node hands out and those
	// no task holds; Full the capabilities it takes no more tasks for now.
	GPUs     int      `json:"gpus,omitempty"`
	GPUsFree int      `json:"gpus_free,omitempty"`
	Full     []string `json:"full,omitempty"`
}

// nodeView renders a node of the registry; local is this machine's node.
func nodeView(n *registry.Node, local string) nodeJSON {
	return nodeJSON{
		ID: n.Node, Hostname: n.Hostname, OS: n.OS, Arch: n.Arch, Capabilities: n.Capabilities,
		CPUPercent: n.CPUPercent, MemPercent: n.MemPercent, Load: [3]float64{n.Load1, n.Load5, n.Load15},
		CPUs: n.CPUs, Running: n.Running, Slots: n.Slots, State: string(n.Health), Via: n.Via,
		LastSeen: n.Seen, Reason: n.Reason, Version: n.Version, Local: n.Node == local,
		GPUs: n.GPUs, GPUsFree: n.GPUsFree, Full: n.Full,
	}
}

func printNodes(w io.Writer, nodes []registry.Node, local string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tVIA\tOS/ARCH\tCPU%\tMEM%\tLOAD\tRUN/SLOTS\tSTATE\tSEEN\tCAPABILITIES")
	hasLocal := false
	var unreachable []string
	for _, n := range nodes {
		id := n.Node
		if n.Node == local {
			id += " *"
			hasLocal = true
		}
		fmt.Fprintf(tw, "%s\t%s\t%s/%s\t%.0f\t%.0f\t%.2f\t%d/%d\t%s\t%s\t%s\n",
			id, n.Via, orDash(n.OS), orDash(n.Arch), n.CPUPercent, n.MemPercent, n.Load1, n.Running, n.Slots, n.Health,
			ago(n.Seen), strings.Join(subjects.WithoutAny(n.Capabilities), ","))
		if n.Reason != "" {
			unreachable = append(unreachable, n.Node+": "+n.Reason)
		}
	}
	tw.Flush()
	if hasLocal {
		fmt.Fprintln(w, "* this machine's node")
	}
	for _, u := range unreachable {
		fmt.Fprintln(w, "unreachable", u)
	}
	for _, n := range nodes {
		if n.GPUs > 0 {
			fmt.Fprintf(w, "%s: %d GPUs, %d free\n", n.Node, n.GPUs, n.GPUsFree)
		}
		if len(n.Full) > 0 {
			fmt.Fprintf(w, "%s: at its limit for %s: such tasks go elsewhere or wait\n", n.Node, strings.Join(n.Full, ", "))
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t)
	if d < time.Second {
		return "now"
	}
	return d.Round(100*time.Millisecond).String() + " ago"
}
