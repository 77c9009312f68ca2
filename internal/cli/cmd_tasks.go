package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/tasks"
)

func (a *app) tasksCommand() *cobra.Command {
	var (
		limit  int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "tasks",
		Short: "List recent tasks, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.openSession(cmd.Context(), a.logger(), modeReader)
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			defer s.close()
			recs, err := s.store.List(cmd.Context(), limit)
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			if err := settle(cmd.Context(), s.svc, recs); err != nil {
				return &exitError{code: ExitError, err: err}
			}
			if asJSON {
				return writeJSON(a.io.Stdout, recs)
			}
			tw := tabwriter.NewWriter(a.io.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TASK\tSTATE\tNODE\tSUBMITTED\tCOMMAND")
			for _, r := range recs {
				state := string(r.State)
				if r.State == tasks.StateQueued && r.Waiting != "" {
					state += ": " + r.Waiting
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, state, r.Node, r.Submitted.Format(time.DateTime), shorten(r.Display(), 60))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "how many")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// settle gives each record that is not final the state the task service
// reads, as fabric status does: a node stores a task's result apart from
// the record, which nobody updates when the front end that submitted the
// task has left, and a task waiting for its lock has its place in line.
func settle(ctx context.Context, svc *frontend.Service, recs []*tasks.Record) error {
	for _, r := range recs {
		if r.State.Final() {
			continue
		}
		st, err := svc.Status(ctx, r.ID)
		if errors.Is(err, frontend.ErrUnknownTask) {
			continue
		}
		if err != nil {
			return fmt.Errorf("task %s: %w", r.ID, err)
		}
		r.State, r.Waiting = st.State, st.Record.Waiting
	}
	return nil
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
