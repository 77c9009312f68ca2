package mcpserver

import (
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/locks"
	"github.com/fabric-run/fabric/internal/wire"
)

// What the command tools take beyond a command: locks, GPUs, an idle
// timeout, retries, an idempotency key and standard input.

// ExtraArgs are the arguments cluster_bash and offload_to share for them
// (exported so that bind can set them through the embedding).
type ExtraArgs struct {
	Lock               flexList   `json:"lock"`
	LockTimeoutSeconds flexNumber `json:"lock_timeout_seconds"`
	GPUs               flexNumber `json:"gpus"`
	IdleTimeoutSeconds flexNumber `json:"idle_timeout_seconds"`
	Retries            flexNumber `json:"retries"`
	RetryOn            flexList   `json:"retry_on"`
	IdempotencyKey     string     `json:"idempotency_key"`
	Stdin              *string    `json:"stdin"`
}

// apply sets what the arguments ask on fr.
func (e *ExtraArgs) apply(fr *frontend.Request) error {
	for _, l := range e.Lock {
		spec, err := locks.ParseSpec(l)
		if err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		fr.Locks = append(fr.Locks, spec.String())
	}
	lt, err := e.LockTimeoutSeconds.duration("lock_timeout_seconds")
	if err != nil {
		return err
	}
	if lt > 0 && len(fr.Locks) == 0 {
		return fmt.Errorf("lock_timeout_seconds without lock: name the lock to wait for")
	}
	idle, err := e.IdleTimeoutSeconds.duration("idle_timeout_seconds")
	if err != nil {
		return err
	}
	gpus, err := e.GPUs.count("gpus", 0, 0)
	if err != nil {
		return err
	}
	retries, err := e.Retries.count("retries", 0, 0)
	if err != nil {
		return err
	}
	on, err := frontend.ParseRetryOn(e.RetryOn)
	if err != nil {
		return fmt.Errorf("retry_on: %w", err)
	}
	if retries > 0 && len(on) == 0 {
		return fmt.Errorf("retries without retry_on: name the kinds to retry on (%s); a command is never run twice otherwise", strings.Join(frontend.RetryKinds(), ", "))
	}
	if retries == 0 && len(on) > 0 {
		retries = 1
	}
	fr.LockTimeout, fr.IdleTimeout, fr.GPUs = wire.Duration(lt), wire.Duration(idle), gpus
	fr.Retry = frontend.Retry{Times: retries, On: on}
	fr.Key = strings.TrimSpace(e.IdempotencyKey)
	if e.Stdin != nil {
		if len(*e.Stdin) > frontend.MaxInlineStdin {
			return fmt.Errorf("stdin: %d bytes; at most %d (%s): put more in a file the node can read", len(*e.Stdin), frontend.MaxInlineStdin, sizeOf(frontend.MaxInlineStdin))
		}
		fr.Stdin = []byte(*e.Stdin)
	}
	return nil
}

// extraOptions are the tool definitions of ExtraArgs.
func extraOptions() []mcp.ToolOption {
	return []mcp.ToolOption{
		mcp.WithString("lock", mcp.Description(`A cluster-wide lock to hold while the command runs: "NAME" (one holder at a time) or "NAME:N" (at most N). The node takes it before starting the command, first come first served: meanwhile the task is queued, "waiting for lock NAME (K ahead)", and the wait does not count against timeout_seconds. For "never two docker builds on the builder at once". Several: a list or comma-separated.`)),
		mcp.WithNumber("lock_timeout_seconds", mcp.Min(0), mcp.Description(`Give up waiting for the lock after this many seconds (error lock_timeout: the command never started). Default: wait.`)),
		mcp.WithNumber("gpus", mcp.Min(0), mcp.Description(`GPU devices the command gets to itself (CUDA_VISIBLE_DEVICES). requires_capabilities ["gpu"] alone gets one; a node with none free is skipped like a full node.`)),
		mcp.WithNumber("idle_timeout_seconds", mcp.Min(0), mcp.Description(`Kill the command once it has printed nothing for this many seconds (error idle_timeout, distinct from timeout). For commands that may hang.`)),
		mcp.WithNumber("retries", mcp.Min(0), mcp.Description(`Run it again up to this many more times when it ends in one of retry_on's kinds, on another node if there is one. Default 0: a command never runs twice on its own.`)),
		mcp.WithArray("retry_on", mcp.WithStringItems(), mcp.Description(`The kinds to retry on: `+strings.Join(frontend.RetryKinds(), ", ")+`. Never an exit code or a timeout. node_lost re-runs a command whose node died mid-run: only for commands safe to run twice.`)),
		mcp.WithString("idempotency_key", mcp.Description(`A key naming this request (e.g. "deploy-v1.2-prod"). A call with a key already used (within the records' 7 days) returns the first task, running or finished, instead of running the command again: reissue a call after a timeout with the same key to get the original result.`)),
		mcp.WithString("stdin", mcp.Description(`Text for the command's standard input (at most `+sizeOf(frontend.MaxInlineStdin)+`); without it the command reads an empty input.`)),
	}
}

// AttemptView is an earlier try of a retried task.
type AttemptView struct {
	Node    string `json:"node,omitempty"`
	At      string `json:"at"`
	Error   string `json:"error"`
	Message string `json:"message,omitempty"`
}

// addExtras fills what a task asked beyond a command into its view.
func addExtras(v *TaskView, st *frontend.Status) {
	r := &st.Record
	v.Waiting, v.Attached, v.Key, v.Locks = r.Waiting, st.Attached, r.Key, r.Locks
	if !st.Running() {
		v.Waiting = ""
	}
	for _, a := range r.Attempts {
		v.Attempts = append(v.Attempts, AttemptView{Node: a.Node, At: a.At.UTC().Format(time.RFC3339), Error: string(a.Error), Message: a.Message})
	}
}

// extrasText is what the text of an answer says of them.
func extrasText(v *TaskView) string {
	var b strings.Builder
	if v.Attached {
		fmt.Fprintf(&b, "attached: idempotency_key %q names this task, submitted before; it was not run again\n", v.Key)
	}
	for i, a := range v.Attempts {
		fmt.Fprintf(&b, "attempt %d on %s: %s: %s (retried)\n", i+1, nonEmpty(a.Node, "no node"), a.Error, a.Message)
	}
	return b.String()
}
