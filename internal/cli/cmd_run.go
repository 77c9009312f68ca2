package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/router"
	"github.com/fabric-run/fabric/internal/wire"
)

// wordsHelp says how run and submit make one command line of their
// arguments.
const wordsHelp = `The words after -- are joined with spaces into one shell command line, which
the node's shell (bash, else sh) parses, as ssh does: quote what the remote
shell should see, e.g. fabric run -- 'ls *.go | wc -l'. A script for sh -c
needs quoting twice: fabric run -- sh -c "'exit 3'" (unquoted it would be
sh -c exit 3, which exits 0).`

// commandLine is the shell command line args make: the words joined with
// spaces, as ssh(1) does.
func commandLine(args []string) string { return strings.Join(args, " ") }

// commandArgs requires a command after the flags, saying how to give one.
func commandArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("no command given: put it after --, e.g. fabric %s -- uname -a", cmd.Name())
	}
	return nil
}

// taskIDArg requires exactly one task id.
func taskIDArg(cmd *cobra.Command, args []string) error {
	switch {
	case len(args) == 0:
		return fmt.Errorf("no task id given: fabric %s ID (fabric tasks lists the recent ones)", cmd.Name())
	case len(args) > 1:
		return fmt.Errorf("one task id at a time, got %d: %s", len(args), strings.Join(args, " "))
	}
	return nil
}

// requireFlags are the requirement flags run and submit share.
type requireFlags struct {
	os, arch, node string
	caps           []string
}

func (r *requireFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&r.os, "os", "", "run on this OS (linux, darwin/macos, ...)")
	f.StringVar(&r.arch, "arch", "", "run on this CPU architecture (amd64/x86_64, arm64/aarch64, ...)")
	f.StringSliceVar(&r.caps, "cap", nil, "require a capability (repeat or comma-separate: docker,gpu)")
	f.StringVar(&r.node, "node", "", "run on this node")
}

func (r *requireFlags) requirements() wire.Requirements {
	return wire.Requirements{OS: r.os, Arch: r.arch, Capabilities: r.caps, Node: r.node}
}

func (a *app) runCommand() *cobra.Command {
	var (
		req     requireFlags
		shared  sharedFlags
		timeout time.Duration
		cwd     string
		asJSON  bool
		explain bool
		noWait  bool
	)
	cmd := &cobra.Command{
		Use:   "run [flags] -- COMMAND...",
		Short: "Run a command on the best node and print its output live",
		Long: `Run a shell command on the cluster. The command's own words decide where it
may run (docker build needs a node with docker; swift build needs macOS), the
flags add requirements, and among the matching nodes the least loaded wins.
Light commands (ls, cat, echo, ...) stay on this machine's node.

Output streams live (stdout to stdout, stderr to stderr), then a one-line
summary goes to stderr. fabric exits with the command's exit code; when the
command could not run at all (no matching node, refused, node lost) it exits
125, on a timeout 124, when interrupted 130.

With no server configured, fabric starts an embedded hub and a local node in
process: it works on a fresh machine with nothing else running.

` + wordsHelp,
		Example: `  fabric run -- uname -a
  fabric run --cap docker -- docker build -t app .
  fabric run --os darwin --timeout 10m -- swift build
  fabric run --json -- make test`,
		Args: commandArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r := frontend.Request{
				Task: wire.Task{
					Command:  commandLine(args),
					Cwd:      cwd,
					Timeout:  wire.Duration(timeout),
					Requires: req.requirements(),
				},
				NoWait: noWait,
			}
			if err := shared.apply(&r, a.io.Stdin, false); err != nil {
				return &exitError{code: ExitError, err: err}
			}
			if !shared.stdin {
				a.noticeStdin()
			}
			log := a.logger()
			s, err := a.openSession(cmd.Context(), log, modeOneShot)
			if err != nil {
				return &exitError{code: ExitNotRun, err: err}
			}
			defer s.close()
			return a.runOne(cmd.Context(), s, r, asJSON, explain)
		},
	}
	req.add(cmd)
	shared.add(cmd, "forward standard input to the command, streamed with flow control, end of file passed on")
	f := cmd.Flags()
	f.DurationVar(&timeout, "timeout", 0, "kill the command after this long (env FABRIC_CMD_TIMEOUT, default 5m)")
	f.StringVar(&cwd, "cwd", "", "working directory on the node (default: the node's home)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON instead of streaming output")
	f.BoolVarP(&explain, "explain", "x", false, "also print why the node was chosen")
	f.BoolVar(&noWait, "no-wait", false, "fail at once if every matching node is busy, instead of waiting for a slot")
	return cmd
}

// runOne runs r and maps the outcome to an exit code.
func (a *app) runOne(ctx context.Context, s *session, r frontend.Request, asJSON, explain bool) error {
	stdout, stderr := a.io.Stdout, a.io.Stderr
	var onOutput func(wire.Stream, []byte)
	if !asJSON {
		onOutput = func(st wire.Stream, p []byte) {
			if st == wire.Stderr {
				stderr.Write(p)
			} else {
				stdout.Write(p)
			}
		}
	}
	var opts []frontend.RunOption
	if s.node == nil {
		// The record lives on the hub: say the id at once, so another
		// fabric can follow the task even if this one is killed.
		opts = append(opts, frontend.OnAccepted(func(id, node string) {
			fmt.Fprintf(stderr, "fabric: task %s accepted by %s\n", id, node)
		}))
	}
	st, err := s.svc.Run(ctx, r, onOutput, opts...)
	if asJSON {
		if jerr := writeJSON(stdout, runReport(st, err)); jerr != nil {
			return jerr
		}
	}
	if err != nil {
		return &exitError{code: notRunCode(ctx, err), err: explainNotRun(err, s)}
	}
	res := st.Result
	if res == nil { // the service shut down under us, or (attached) we were interrupted
		return &exitError{code: notRunCode(ctx, ctx.Err()), err: fmt.Errorf("task %s: no result", st.Record.ID)}
	}
	if st.Attached && !asJSON {
		// Another submission with this key ran it: its kept output.
		fmt.Fprintf(stderr, "fabric: idempotency key %q names task %s, submitted before: not run again; its result follows\n", r.Key, st.Record.ID)
		io.WriteString(stdout, res.Stdout)
		io.WriteString(stderr, res.Stderr)
	}
	if !asJSON {
		fmt.Fprintln(stderr, summary(st))
		if explain {
			fmt.Fprintln(stderr, "fabric: why:", st.Record.Reason)
		}
	}
	return &exitError{code: exitCode(res)}
}

// exitCode maps a result to fabric's exit code.
func exitCode(res *wire.Result) int {
	switch res.Error {
	case wire.ErrNone:
		return res.ExitCode
	case wire.ErrTimeout, wire.ErrIdleTimeout:
		return ExitTimeout
	case wire.ErrCancelled:
		return ExitCancelled
	default:
		return ExitNotRun
	}
}

func notRunCode(ctx context.Context, err error) int {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return ExitCancelled
	}
	return ExitNotRun
}

// explainNotRun adds what would help to an error that kept a command from
// running.
func explainNotRun(err error, s *session) error {
	switch {
	case errors.Is(err, router.ErrNoMatch):
		return fmt.Errorf("%w\n  hint: `fabric nodes` lists the nodes and their capabilities; relax --os/--arch/--cap or start a node that has them", err)
	case errors.Is(err, router.ErrUnknownNode):
		return fmt.Errorf("%w\n  hint: `fabric nodes` lists the nodes (server: %s)", err, s.servers)
	}
	return err
}

// summary is the one-line account of a run for stderr.
func summary(st *frontend.Status) string {
	r := st.Result
	d := r.Duration.D().Round(time.Millisecond)
	var b strings.Builder
	fmt.Fprintf(&b, "fabric: %s: ", st.Record.Node)
	switch {
	case r.Error == wire.ErrNone && r.Signal != "":
		fmt.Fprintf(&b, "killed by %s (exit %d)", r.Signal, r.ExitCode)
	case r.Error == wire.ErrNone:
		fmt.Fprintf(&b, "exit %d", r.ExitCode)
	default:
		fmt.Fprintf(&b, "%s: %s", r.Error, r.Message)
	}
	fmt.Fprintf(&b, " in %s (task %s)", d, st.Record.ID)
	for _, s := range []struct {
		name  string
		trunc bool
		n     int64
	}{{"stdout", r.StdoutTruncated, r.StdoutBytes}, {"stderr", r.StderrTruncated, r.StderrBytes}} {
		if s.trunc {
			fmt.Fprintf(&b, "; %s was %d bytes, its head and tail are kept", s.name, s.n)
		}
	}
	return b.String()
}

// report is what --json prints.
type report struct {
	ID     string       `json:"id"`
	State  string       `json:"state,omitempty"`
	Node   string       `json:"node,omitempty"`
	Reason string       `json:"reason,omitempty"`
	Error  string       `json:"error,omitempty"`
	Result *wire.Result `json:"result,omitempty"`
}

func runReport(st *frontend.Status, err error) report {
	r := report{}
	if st != nil {
		r.ID, r.State, r.Node, r.Reason, r.Result = st.Record.ID, string(st.State), st.Record.Node, st.Record.Reason, st.Result
	}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
