package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) cancelCommand() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "cancel TASK_ID",
		Short: "Cancel a running task (its whole process group is killed)",
		Args:  taskIDArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.openSession(cmd.Context(), a.logger(), modeReader)
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			defer s.close()
			if err := s.svc.Cancel(cmd.Context(), args[0], reason); err != nil {
				return &exitError{code: ExitError, err: err}
			}
			fmt.Fprintf(a.io.Stderr, "fabric: cancelled task %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded with the task")
	return cmd
}
