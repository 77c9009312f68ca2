package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/fabric-run/fabric/internal/capture"
	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
)

// forever is how long `status --wait` waits: until the task ends.
const forever = 100 * 365 * 24 * time.Hour

func (a *app) statusCommand() *cobra.Command {
	var (
		wait   bool
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status TASK_ID",
		Short: "Show a task's state, node and result",
		Long: `Show what is known of a task: its state (queued, running, done, failed,
cancelled, lost), where it runs or ran and why, and its result with the head
and tail of its output. Records are kept by the hub for 7 days.

With --wait, block until the task ends, print its result, and exit with the
task's exit code (124 timeout, 125 did not run or lost, 130 cancelled).`,
		Args: taskIDArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.openSession(cmd.Context(), a.logger(), modeReader)
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			defer s.close()
			var st *frontend.Status
			if wait {
				st, err = s.svc.Wait(cmd.Context(), args[0], nil, forever)
			} else {
				st, err = s.svc.Status(cmd.Context(), args[0])
			}
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			if asJSON {
				if err := writeJSON(a.io.Stdout, statusReport(st, nil)); err != nil {
					return err
				}
			} else {
				printStatus(a.io.Stdout, st)
			}
			if wait {
				return &exitError{code: stateExitCode(st)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the task to end and exit with its exit code")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// stateExitCode is the exit code of `status --wait`.
func stateExitCode(st *frontend.Status) int {
	if st.Result != nil {
		return exitCode(st.Result)
	}
	switch st.State {
	case tasks.StateCancelled:
		return ExitCancelled
	case tasks.StateDone:
		return ExitOK
	}
	return ExitNotRun
}

// statusJSON is a task as --json prints it.
type statusJSON struct {
	ID    string      `json:"id"`
	State tasks.State `json:"state"`
	Note  string      `json:"note,omitempty"`
	// Attached: the idempotency key named this task, submitted before.
	Attached bool         `json:"attached,omitempty"`
	Record   tasks.Record `json:"record"`
	Result   *wire.Result `json:"result,omitempty"`
	Error    string       `json:"error,omitempty"`
}

func statusReport(st *frontend.Status, err error) statusJSON {
	out := statusJSON{ID: st.Record.ID, State: st.State, Note: st.Note, Attached: st.Attached, Record: st.Record, Result: st.Result}
	if err != nil {
		out.Error = err.Error()
	}
	return out
}

// headTailLines is how many lines of each stream `status` shows.
const headTailLines = 10

func printStatus(w io.Writer, st *frontend.Status) {
	r := st.Record
	fmt.Fprintf(w, "task     %s\nstate    %s\n", r.ID, st.State)
	if st.Note != "" {
		fmt.Fprintf(w, "note     %s\n", st.Note)
	}
	fmt.Fprintf(w, "command  %s\n", r.Display())
	if r.Node != "" {
		fmt.Fprintf(w, "node     %s\n", r.Node)
	}
	if r.Reason != "" {
		fmt.Fprintf(w, "why      %s\n", r.Reason)
	}
	printExtras(w, st)
	fmt.Fprintf(w, "submitted %s\n", r.Submitted.Format(time.RFC3339))
	if r.Error != wire.ErrNone && st.Result == nil {
		fmt.Fprintf(w, "error    %s: %s\n", r.Error, r.Message)
	}
	res := st.Result
	if res == nil {
		return
	}
	switch {
	case res.Error != wire.ErrNone:
		fmt.Fprintf(w, "result   %s: %s\n", res.Error, res.Message)
	case res.Signal != "":
		fmt.Fprintf(w, "result   killed by %s (exit %d)\n", res.Signal, res.ExitCode)
	default:
		fmt.Fprintf(w, "result   exit %d\n", res.ExitCode)
	}
	fmt.Fprintf(w, "duration %s\n", res.Duration.D().Round(time.Millisecond))
	for _, s := range []struct {
		name  string
		text  string
		total int64
	}{{"stdout", res.Stdout, res.StdoutBytes}, {"stderr", res.Stderr, res.StderrBytes}} {
		if s.total == 0 {
			continue
		}
		fmt.Fprintf(w, "--- %s (%s) ---\n%s", s.name, capture.Size(s.total), headTail(s.text, headTailLines))
	}
}

// headTail returns the first and last n lines of text, saying what is left
// out between them.
func headTail(text string, n int) string {
	lines := splitKeep(text)
	if len(lines) <= 2*n {
		return text + newlineIfMissing(text)
	}
	head, tail := lines[:n], lines[len(lines)-n:]
	return join(head) + fmt.Sprintf("[... %d lines; fabric logs ID shows them all ...]\n", len(lines)-2*n) + join(tail)
}
