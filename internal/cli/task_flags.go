package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/locks"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
)

// sharedFlags are what run and submit ask of a task beyond a command:
// locks, GPUs, an idle timeout, retries, an idempotency key and standard
// input.
type sharedFlags struct {
	locks       []string
	lockTimeout time.Duration
	gpus        int
	idleTimeout time.Duration
	retries     int
	retryOn     []string
	key         string
	stdin       bool
}

func (s *sharedFlags) add(cmd *cobra.Command, inputHelp string) {
	f := cmd.Flags()
	f.StringArrayVar(&s.locks, "lock", nil, "take cluster-wide lock NAME[:N] (at most N holders, default 1) before starting; repeat for several")
	f.DurationVar(&s.lockTimeout, "lock-timeout", 0, "give up when the locks are not held within this long (error lock_timeout; default: wait)")
	f.IntVar(&s.gpus, "gpus", 0, "GPU devices to hand the command (CUDA_VISIBLE_DEVICES); --cap gpu alone gets one")
	f.DurationVar(&s.idleTimeout, "idle-timeout", 0, "kill the command once it has printed nothing for this long (error idle_timeout)")
	f.IntVar(&s.retries, "retries", 0, "run again up to N more times when it ends in a kind --retry-on names (default: never)")
	f.StringSliceVar(&s.retryOn, "retry-on", nil, "the kinds to retry on, comma-separated: "+joinKinds())
	f.StringVar(&s.key, "key", "", "idempotency key: a task already submitted with this key is attached to, not run again")
	f.BoolVarP(&s.stdin, "interactive", "i", false, inputHelp)
}

func joinKinds() string {
	out := ""
	for i, k := range frontend.RetryKinds() {
		if i > 0 {
			out += ", "
		}
		out += k
	}
	return out
}

// apply sets what the flags ask on r. Input is streamed from in (run) or,
// with inline, read whole into the task (submit).
func (s *sharedFlags) apply(r *frontend.Request, in io.Reader, inline bool) error {
	for _, l := range s.locks {
		spec, err := locks.ParseSpec(l)
		if err != nil {
			return fmt.Errorf("--lock: %w", err)
		}
		r.Locks = append(r.Locks, spec.String())
	}
	if s.lockTimeout < 0 || s.idleTimeout < 0 || s.gpus < 0 || s.retries < 0 {
		return errors.New("--lock-timeout, --idle-timeout, --gpus and --retries must not be negative")
	}
	if s.lockTimeout > 0 && len(r.Locks) == 0 {
		return errors.New("--lock-timeout without --lock: name the lock to wait for")
	}
	r.LockTimeout, r.GPUs, r.IdleTimeout = wire.Duration(s.lockTimeout), s.gpus, wire.Duration(s.idleTimeout)
	on, err := frontend.ParseRetryOn(s.retryOn)
	if err != nil {
		return fmt.Errorf("--retry-on: %w", err)
	}
	switch {
	case len(on) > 0 && s.retries == 0:
		return errors.New("--retry-on without --retries: say how many more times, e.g. --retries 1")
	case s.retries > 0 && len(on) == 0:
		return fmt.Errorf("--retries %d without --retry-on: name the kinds (%s); a task is never run again otherwise", s.retries, joinKinds())
	}
	r.Retry = frontend.Retry{Times: s.retries, On: on}
	r.Key = s.key
	if !s.stdin {
		return nil
	}
	if !inline {
		r.StdinStream, r.Input = true, in
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(in, frontend.MaxInlineStdin+1))
	if err != nil {
		return fmt.Errorf("-i: read standard input: %w", err)
	}
	if len(b) > frontend.MaxInlineStdin {
		return fmt.Errorf("-i: submit sends standard input with the task, at most %d KiB; stream more with fabric run -i", frontend.MaxInlineStdin>>10)
	}
	r.Stdin = b
	return nil
}

func nonEmptyOr(s, or string) string {
	if s == "" {
		return or
	}
	return s
}

// printExtras prints what a task asked beyond a command, for fabric status.
func printExtras(w io.Writer, st *frontend.Status) {
	r := st.Record
	if st.Attached {
		fmt.Fprintf(w, "attached this request's idempotency key names this task, submitted before: not run again\n")
	}
	if r.Waiting != "" && st.State == tasks.StateQueued {
		fmt.Fprintf(w, "waiting  %s\n", r.Waiting)
	}
	if len(r.Locks) > 0 {
		fmt.Fprintf(w, "locks    %s\n", strings.Join(r.Locks, " "))
	}
	if r.Key != "" {
		fmt.Fprintf(w, "key      %s\n", r.Key)
	}
	for i, at := range r.Attempts {
		fmt.Fprintf(w, "attempt  %d on %s at %s: %s: %s\n", i+1, nonEmptyOr(at.Node, "no node"), at.At.Format(time.RFC3339), at.Error, at.Message)
	}
}
