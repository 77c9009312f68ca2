package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fabric-run/fabric/internal/locks"
)

func (a *app) locksCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "locks [NAME]",
		Short: "List the cluster-wide locks: who holds each, who waits, in order",
		Long: `List the cluster-wide locks tasks hold or wait for (fabric run --lock NAME[:N]):
for each, its holders and then its waiters, first in line first, with their
task, node, since when and command. With NAME, that lock alone.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.openSession(cmd.Context(), a.logger(), modeReader)
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			defer s.close()
			st, err := locks.Open(cmd.Context(), s.nc, locks.Config{})
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			var qs []locks.Queue
			if len(args) == 1 {
				q, err := st.Get(cmd.Context(), args[0])
				if err != nil {
					return &exitError{code: ExitError, err: err}
				}
				if len(q.Entries) > 0 {
					qs = append(qs, q)
				}
			} else if qs, err = st.List(cmd.Context()); err != nil {
				return &exitError{code: ExitError, err: err}
			}
			if asJSON {
				return writeJSON(a.io.Stdout, lockViews(qs))
			}
			return writeLocks(a.io.Stdout, qs)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// lockView is one holder or waiter as `fabric locks --json` prints it.
type lockView struct {
	Lock    string    `json:"lock"`
	Max     int       `json:"max"`
	Task    string    `json:"task"`
	Node    string    `json:"node,omitempty"`
	Holding bool      `json:"holding"`
	Ahead   int       `json:"ahead"`
	Since   time.Time `json:"since"`
	Command string    `json:"command,omitempty"`
}

func lockViews(qs []locks.Queue) []lockView {
	out := []lockView{}
	for _, q := range qs {
		for _, e := range q.Entries {
			out = append(out, lockView{Lock: q.Name, Max: e.Max, Task: e.Owner, Node: e.Node, Holding: e.Holding,
				Ahead: e.Ahead, Since: e.Since, Command: e.What})
		}
	}
	return out
}

func writeLocks(w io.Writer, qs []locks.Queue) error {
	if len(qs) == 0 {
		_, err := fmt.Fprintln(w, "no task holds or waits for a lock")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LOCK\tSTATE\tTASK\tNODE\tSINCE\tCOMMAND")
	for _, v := range lockViews(qs) {
		state := "holding"
		if !v.Holding {
			state = fmt.Sprintf("waiting (%d ahead)", v.Ahead)
		}
		name := v.Lock
		if v.Max > 1 {
			name = fmt.Sprintf("%s:%d", v.Lock, v.Max)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, state, v.Task, v.Node, v.Since.Local().Format(time.DateTime), shorten(v.Command, 50))
	}
	return tw.Flush()
}
