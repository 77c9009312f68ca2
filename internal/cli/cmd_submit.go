package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
)

func (a *app) submitCommand() *cobra.Command {
	var (
		req     requireFlags
		shared  sharedFlags
		timeout time.Duration
		cwd     string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "submit [flags] -- COMMAND...",
		Short: "Start a command on the best node and print its task id at once",
		Long: `Submit a command to the cluster and return as soon as a node has accepted
it, printing the task id on stdout. The command runs on; its record (state,
node, output, exit code) is kept by the hub, so any fabric on the machine or
cluster can ask for it later: fabric status ID, fabric logs ID, fabric cancel ID.

With no server configured, submit starts the local hub in the background
(fabric serve --with-node, which exits after 10 idle minutes), since the task
must outlive this process.

` + wordsHelp,
		Example: `  id=$(fabric submit -- make -j8 test)
  fabric status --wait "$id"`,
		Args: commandArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// This process leaves once the task is placed: only workers,
			// which record their own results, may take it (not SSH nodes).
			r := frontend.Request{
				Task:       wire.Task{Command: commandLine(args), Cwd: cwd, Timeout: wire.Duration(timeout), Requires: req.requirements()},
				Background: true,
				Unattended: true,
			}
			if err := shared.apply(&r, a.io.Stdin, true); err != nil {
				return &exitError{code: ExitError, err: err}
			}
			if !shared.stdin {
				a.noticeStdin()
			}
			log := a.logger()
			s, err := a.openSession(cmd.Context(), log, modeShared)
			if err != nil {
				return &exitError{code: ExitNotRun, err: err}
			}
			defer s.close()
			st, err := s.svc.Submit(cmd.Context(), r)
			if asJSON && st != nil {
				if jerr := writeJSON(a.io.Stdout, statusReport(st, err)); jerr != nil {
					return jerr
				}
			}
			if err != nil {
				return &exitError{code: notRunCode(cmd.Context(), err), err: explainNotRun(err, s)}
			}
			if !asJSON {
				fmt.Fprintln(a.io.Stdout, st.Record.ID)
				switch {
				case st.Attached:
					fmt.Fprintf(a.io.Stderr, "fabric: idempotency key %q names task %s, submitted before (%s): not run again; fabric status --wait %s for its result\n", r.Key, st.Record.ID, st.State, st.Record.ID)
				case st.State == tasks.StateQueued:
					fmt.Fprintf(a.io.Stderr, "fabric: task %s accepted by %s, %s; fabric status --wait %s for its result\n", st.Record.ID, st.Record.Node, nonEmptyOr(st.Record.Waiting, "queued"), st.Record.ID)
				default:
					fmt.Fprintf(a.io.Stderr, "fabric: task %s running on %s; fabric status --wait %s for its result\n", st.Record.ID, st.Record.Node, st.Record.ID)
				}
			}
			return nil
		},
	}
	req.add(cmd)
	shared.add(cmd, fmt.Sprintf("send standard input with the task (at most %d KiB: it cannot stream once submit has left)", frontend.MaxInlineStdin>>10))
	f := cmd.Flags()
	f.DurationVar(&timeout, "timeout", 0, "kill the command after this long (env FABRIC_CMD_TIMEOUT, default 5m)")
	f.StringVar(&cwd, "cwd", "", "working directory on the node (default: the node's home)")
	f.BoolVar(&asJSON, "json", false, "print the task's record as JSON")
	return cmd
}
