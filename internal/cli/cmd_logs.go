package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/fabric-run/fabric/internal/wire"
)

func (a *app) logsCommand() *cobra.Command {
	var follow bool
	var stream string
	cmd := &cobra.Command{
		Use:   "logs TASK_ID",
		Short: "Print a task's output",
		Long: `Print the output a task's record keeps (up to 1 MiB of each stream: past that
its head and tail, with a line saying how much was left out): stdout to
stdout, stderr to stderr.

With -f, a running task's output is printed live from now on until it ends.`,
		Args: taskIDArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch stream {
			case "both", "stdout", "stderr":
			default:
				return &exitError{code: ExitError, err: fmt.Errorf("--stream %q: want stdout, stderr or both", stream)}
			}
			s, err := a.openSession(cmd.Context(), a.logger(), modeReader)
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			defer s.close()
			id := args[0]
			st, err := s.svc.Status(cmd.Context(), id)
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			if st.Result == nil && st.Running() {
				if !follow {
					return &exitError{code: ExitError, err: fmt.Errorf("task %s is %s on %s; its output is kept when it ends (or follow it live with -f)", id, st.State, st.Record.Node)}
				}
				return a.followLogs(cmd.Context(), s, id, stream)
			}
			if st.Result == nil {
				return &exitError{code: ExitError, err: fmt.Errorf("task %s has no output: %s %s", id, st.State, st.Record.Message)}
			}
			a.printStreams(st.Result.Stdout, st.Result.Stderr, stream)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow a running task's output live until it ends")
	cmd.Flags().StringVar(&stream, "stream", "both", "stdout, stderr or both")
	return cmd
}

func (a *app) printStreams(stdout, stderr, which string) {
	if which != "stderr" {
		fmt.Fprint(a.io.Stdout, stdout)
	}
	if which != "stdout" {
		fmt.Fprint(a.io.Stderr, stderr)
	}
}

// followLogs prints a running task's output chunks as its node streams them
// to the task's output subject, until its result is recorded.
func (a *app) followLogs(ctx context.Context, s *session, id, which string) error {
	subj, err := a.settings.subjects.Output(id)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	chunks := make(chan *nats.Msg, 256)
	sub, err := s.nc.ChanSubscribe(subj, chunks)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	defer sub.Unsubscribe()
	if err := s.nc.Flush(); err != nil { // the subscription is live from here
		return &exitError{code: ExitError, err: err}
	}
	fmt.Fprintf(a.io.Stderr, "fabric: following task %s\n", id)
	done := make(chan error, 1)
	go func() {
		_, err := s.store.WaitResult(ctx, id)
		done <- err
	}()
	for {
		select {
		case m := <-chunks:
			a.writeChunk(m, which)
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				return &exitError{code: ExitError, err: err}
			}
			// The node sent its last chunk before its result, so every
			// chunk is already queued here: drain them.
			for {
				select {
				case m := <-chunks:
					a.writeChunk(m, which)
				default:
					return nil
				}
			}
		}
	}
}

// writeChunk prints one output chunk if its stream is wanted.
func (a *app) writeChunk(m *nats.Msg, which string) {
	var c wire.Chunk
	if wire.Decode(m, &c) != nil {
		return
	}
	if c.Stream == wire.Stderr && which != "stdout" {
		a.io.Stderr.Write(c.Data)
	} else if c.Stream == wire.Stdout && which != "stderr" {
		a.io.Stdout.Write(c.Data)
	}
}
