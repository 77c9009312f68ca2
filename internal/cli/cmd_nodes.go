package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fabric-run/fabric/internal/registry"
)

func (a *app) nodesCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "nodes",
		Aliases: []string{"cluster-status", "status-all"},
		Short:   "List the cluster's nodes with their load and health",
		Long: `List every node the cluster knows: OS, architecture, capabilities, CPU %,
memory %, load average, running tasks over slots, state (ready, draining,
leaving, stale) and when it was last heard from.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.openSession(cmd.Context(), a.logger(), modeOneShot)
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			defer s.close()
			nodes := s.fe.Registry().Snapshot()
			if asJSON {
				return writeJSON(a.io.Stdout, nodesReport(nodes, s))
			}
			if len(nodes) == 0 {
				fmt.Fprintf(a.io.Stderr, "fabric: no nodes answered on %s (is a node running? start one with `fabric node --server URL`)\n", s.servers)
				return nil
			}
			printNodes(a.io.Stdout, nodes, s.fe.Local())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// nodeJSON is one node in `fabric nodes --json`.
type nodeJSON struct {
	ID           string     `json:"id"`
	Hostname     string     `json:"hostname"`
	OS           string     `json:"os"`
	Arch         string     `json:"arch"`
	Capabilities []string   `json:"capabilities"`
	CPUPercent   float64    `json:"cpu_percent"`
	MemPercent   float64    `json:"mem_percent"`
	Load         [3]float64 `json:"load"`
	CPUs         int        `json:"cpus"`
	Running      int        `json:"running"`
	Slots        int        `json:"slots"`
	State        string     `json:"state"`
	Via          string     `json:"via"`
	LastSeen     time.Time  `json:"last_seen"`
	Version      string     `json:"version"`
	Local        bool       `json:"local,omitempty"`
}

func nodesReport(nodes []registry.Node, s *session) map[string]any {
	local := s.fe.Local()
	out := make([]nodeJSON, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, nodeJSON{
			ID: n.Node, Hostname: n.Hostname, OS: n.OS, Arch: n.Arch, Capabilities: n.Capabilities,
			CPUPercent: n.CPUPercent, MemPercent: n.MemPercent, Load: [3]float64{n.Load1, n.Load5, n.Load15},
			CPUs: n.CPUs, Running: n.Running, Slots: n.Slots, State: string(n.Health), Via: "nats",
			LastSeen: n.Seen, Version: n.Version, Local: n.Node == local,
		})
	}
	return map[string]any{"server": s.servers, "local_node": local, "nodes": out}
}

func printNodes(w io.Writer, nodes []registry.Node, local string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tOS/ARCH\tCPU%\tMEM%\tLOAD\tRUN/SLOTS\tSTATE\tSEEN\tCAPABILITIES")
	for _, n := range nodes {
		id := n.Node
		if id == local {
			id += " *"
		}
		fmt.Fprintf(tw, "%s\t%s/%s\t%.0f\t%.0f\t%.2f\t%d/%d\t%s\t%s\t%s\n",
			id, n.OS, n.Arch, n.CPUPercent, n.MemPercent, n.Load1, n.Running, n.Slots, n.Health,
			ago(n.Seen), strings.Join(withoutAny(n.Capabilities), ","))
	}
	tw.Flush()
	if local != "" {
		fmt.Fprintln(w, "* this machine's node")
	}
}

func withoutAny(caps []string) []string {
	out := make([]string, 0, len(caps))
	for _, c := range caps {
		if c != "any" {
			out = append(out, c)
		}
	}
	return out
}

func ago(t time.Time) string {
	d := time.Since(t)
	if d < time.Second {
		return "now"
	}
	return d.Round(100*time.Millisecond).String() + " ago"
}
