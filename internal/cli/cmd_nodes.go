package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fabric-run/fabric/internal/frontend"
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
			nodes := s.fe.Nodes(cmd.Context())
			if asJSON {
				return writeJSON(a.io.Stdout, map[string]any{
					"server": s.servers, "local_node": s.fe.Local(), "records": s.store.Backend(), "nodes": nodes,
				})
			}
			if len(nodes) == 0 {
				fmt.Fprintf(a.io.Stderr, "fabric: no nodes answered on %s (is a node running? start one with `fabric node --server URL`)\n", s.servers)
				return nil
			}
			printNodes(a.io.Stdout, nodes)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printNodes(w io.Writer, nodes []frontend.NodeInfo) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tVIA\tOS/ARCH\tCPU%\tMEM%\tLOAD\tRUN/SLOTS\tSTATE\tSEEN\tCAPABILITIES")
	local := false
	var unreachable []string
	for _, n := range nodes {
		id := n.ID
		if n.Local {
			id += " *"
			local = true
		}
		fmt.Fprintf(tw, "%s\t%s\t%s/%s\t%.0f\t%.0f\t%.2f\t%d/%d\t%s\t%s\t%s\n",
			id, n.Via, orDash(n.OS), orDash(n.Arch), n.CPUPercent, n.MemPercent, n.Load[0], n.Running, n.Slots, n.State,
			ago(n.LastSeen), strings.Join(subjects.WithoutAny(n.Capabilities), ","))
		if n.Reason != "" {
			unreachable = append(unreachable, n.ID+": "+n.Reason)
		}
	}
	tw.Flush()
	if local {
		fmt.Fprintln(w, "* this machine's node")
	}
	for _, u := range unreachable {
		fmt.Fprintln(w, "unreachable", u)
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
