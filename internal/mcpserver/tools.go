package mcpserver

import (
	"github.com/mark3labs/mcp-go/mcp"
)

// The tool names.
const (
	ToolClusterBash     = "cluster_bash"
	ToolOffloadTo       = "offload_to"
	ToolParallelExecute = "parallel_execute"
	ToolClusterStatus   = "cluster_status"
	ToolTaskStatus      = "task_status"
	ToolWaitTask        = "wait_task"
	ToolTaskOutput      = "task_output"
	ToolCancelTask      = "cancel_task"
)

// commandAnnotations mark a tool that runs arbitrary commands: it may change
// anything, and running it twice is not running it once.
func commandAnnotations(title string) []mcp.ToolOption {
	return []mcp.ToolOption{
		mcp.WithTitleAnnotation(title),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(true),
		mcp.WithIdempotentHintAnnotation(false),
		mcp.WithOpenWorldHintAnnotation(true),
	}
}

// readAnnotations mark a tool that only reads the fabric's own state.
func readAnnotations(title string) []mcp.ToolOption {
	return []mcp.ToolOption{
		mcp.WithTitleAnnotation(title),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	}
}

func tool(name string, opts ...[]mcp.ToolOption) mcp.Tool {
	var all []mcp.ToolOption
	for _, o := range opts {
		all = append(all, o...)
	}
	return mcp.NewTool(name, all...)
}

// Argument descriptions shared by several tools.
const (
	descCommand = `The shell command line, e.g. "make -j8 test" or "cd src && go test ./...". Run by bash (sh where there is no bash) in its own process group.`
	descOS      = `Run only on this operating system: linux, darwin (macos is accepted), windows or freebsd.`
	descArch    = `Run only on this CPU architecture: amd64 (x86_64 is accepted) or arm64 (aarch64 is accepted).`
	descCaps    = `Capabilities the node must have, e.g. ["docker"] or ["gpu", "cuda"]. cluster_status lists each node's. Programs the command runs add their own (docker build needs docker).`
	descTimeout = `Kill the command (its whole process group) after this many seconds. Default: the fabric's command timeout (300 s unless configured). It is not the sync budget: a command may run far longer than one call waits.`
	descCwd     = `Working directory on the node; ~ is the node user's home (the default).`
	descBg      = `true: return as soon as a node accepted the command, with its task id; use wait_task for the result. For long builds and test runs.`
	descTaskID  = `The task id, as returned by cluster_bash, offload_to, parallel_execute or an earlier call.`
)

func clusterBashTool(cfg Config) mcp.Tool {
	return tool(ToolClusterBash, []mcp.ToolOption{
		mcp.WithDescription(`Run a shell command on the best machine of the user's cluster and get its exit code, duration, stdout and stderr, the node it ran on and the one-line reason it went there. ` +
			`fabric reads what the command needs from the programs it runs (docker → a node with docker, swift/xcodebuild → macOS, nvidia-smi → gpu), adds requires_os/requires_arch/requires_capabilities, and picks the least-loaded matching node; light commands (ls, cat, echo ...) stay on this machine. ` +
			`Use it for builds, tests, and anything heavy or platform-specific; use offload_to to choose the node yourself and parallel_execute for many commands at once. ` +
			`The call waits at most ` + seconds(cfg.SyncBudget) + `: a command still running then is NOT killed, and the answer gives its task_id and output so far; call wait_task with it. background: true returns as soon as a node accepted it. ` +
			`Output is cut to the head and tail of each stream (` + sizeOf(int64(cfg.OutputBytes)) + ` in all, the answer says exactly what was cut); task_output gets any other slice. ` +
			`A non-zero exit is a normal answer. A command that could not run (no matching node, refused by the command guard, timed out, node lost, cancelled) is an error that says why and what would help. dry_run: true only says where it would run and why.`),
		mcp.WithString("command", mcp.Required(), mcp.Description(descCommand)),
		mcp.WithString("requires_os", mcp.Description(descOS)),
		mcp.WithString("requires_arch", mcp.Description(descArch)),
		mcp.WithArray("requires_capabilities", mcp.WithStringItems(), mcp.Description(descCaps)),
		mcp.WithNumber("timeout_seconds", mcp.Min(0), mcp.Description(descTimeout)),
		mcp.WithString("cwd", mcp.Description(descCwd)),
		mcp.WithBoolean("background", mcp.Description(descBg)),
		mcp.WithBoolean("dry_run", mcp.Description(`true: run nothing; return only the routing decision: the node it would go to, the fallbacks, what the command requires (explicit plus inferred) and why the other nodes were not chosen.`)),
		mcp.WithOutputSchema[RunView](),
	}, extraOptions(), commandAnnotations("Run a command on the cluster"))
}

func offloadToTool(cfg Config) mcp.Tool {
	return tool(ToolOffloadTo, []mcp.ToolOption{
		mcp.WithDescription(`Run a shell command on one named node of the cluster (node ids come from cluster_status), e.g. the Mac for an Xcode build or the machine that holds a checkout. ` +
			`Same answer as cluster_bash: exit code, duration, output head and tail (` + sizeOf(int64(cfg.OutputBytes)) + ` in all; task_output gets the rest), task id. ` +
			`Waits at most ` + seconds(cfg.SyncBudget) + `; a command still running then goes on, and wait_task waits for it. background: true returns once the node accepted it. ` +
			`An unknown node id, or a node that lacks what the command needs, is an error naming the known nodes.`),
		mcp.WithString("command", mcp.Required(), mcp.Description(descCommand)),
		mcp.WithString("node_id", mcp.Required(), mcp.Description(`The node to run on, as cluster_status lists it.`)),
		mcp.WithNumber("timeout_seconds", mcp.Min(0), mcp.Description(descTimeout)),
		mcp.WithString("cwd", mcp.Description(descCwd)),
		mcp.WithBoolean("background", mcp.Description(descBg)),
		mcp.WithOutputSchema[RunView](),
	}, extraOptions(), commandAnnotations("Run a command on a named node"))
}

func parallelExecuteTool(cfg Config) mcp.Tool {
	return tool(ToolParallelExecute, []mcp.ToolOption{
		mcp.WithDescription(`Run many independent shell commands at once, spread over the cluster's nodes (each placement counts toward its node's load, so a batch does not pile onto one machine). ` +
			`Returns one result per command in input order (commands are numbered from 1) and a summary that groups commands with identical output, as dshbak/clush do ("commands 1,3,4-7 (nodes a, b): exit 0" then the output once), with a count of exit codes. ` +
			`Waits at most ` + seconds(cfg.SyncBudget) + ` in all; commands still running then go on, and their task ids are listed for wait_task. ` +
			`Output shown is bounded (` + sizeOf(int64(cfg.OutputBytes)) + ` over all groups); task_output reads any command's full kept output by task id. ` +
			`fail_fast: true launches nothing more after the first command that fails. Use it for per-package test runs, the same check on every node (with requires_*), or fan-out work.`),
		mcp.WithArray("commands", mcp.Required(), mcp.WithStringItems(), mcp.MinItems(1), mcp.Description(`The shell command lines, each run on its own like a cluster_bash command.`)),
		mcp.WithString("requires_os", mcp.Description(descOS+` Applies to every command.`)),
		mcp.WithString("requires_arch", mcp.Description(descArch+` Applies to every command.`)),
		mcp.WithArray("requires_capabilities", mcp.WithStringItems(), mcp.Description(descCaps+` Applies to every command.`)),
		mcp.WithNumber("max_parallel", mcp.Min(0), mcp.Description(`At most this many commands run at once (default: as many as the cluster has free slots).`)),
		mcp.WithNumber("timeout_seconds", mcp.Min(0), mcp.Description(descTimeout+` Per command.`)),
		mcp.WithBoolean("fail_fast", mcp.Description(`true: after the first command that fails (non-zero exit, or could not run), launch no more; those not launched are reported as not started.`)),
		mcp.WithOutputSchema[ParallelView](),
	}, commandAnnotations("Run commands in parallel across the cluster"))
}

func clusterStatusTool() mcp.Tool {
	return tool(ToolClusterStatus, []mcp.ToolOption{
		mcp.WithDescription(`List the cluster's nodes: id, OS, CPU architecture, capabilities (docker, gpu, go, ...), CPU %, memory %, load average, running tasks over slots, state (ready, draining, leaving, stale), when each was last heard from, and how it is reached. ` +
			`Also this machine's node id, the server the fabric uses, and where task records are kept (and whether they outlive this session). ` +
			`Use it to find node ids for offload_to and capabilities for requires_capabilities, or to see why a command could not be placed.`),
		mcp.WithOutputSchema[ClusterView](),
	}, readAnnotations("Cluster status"))
}

func taskStatusTool() mcp.Tool {
	return tool(ToolTaskStatus, []mcp.ToolOption{
		mcp.WithDescription(`Look up a task by id: its state (queued, running, done, failed, cancelled, lost), node, and once it ended its result (exit code, duration, output head and tail). Returns at once. To wait for a task to end, use wait_task instead of calling this repeatedly.`),
		mcp.WithString("task_id", mcp.Required(), mcp.Description(descTaskID)),
		mcp.WithOutputSchema[TaskView](),
	}, readAnnotations("Task status"))
}

func waitTaskTool(cfg Config) mcp.Tool {
	return tool(ToolWaitTask, []mcp.ToolOption{
		mcp.WithDescription(`Wait for a task to end, server-side, for up to ` + seconds(cfg.SyncBudget) + `, and return its result (exit code, duration, output head and tail). ` +
			`With until_regex it returns as soon as a line of the task's output matches (e.g. "listening on" for a server, or "FAIL" in a test run), with matched: true and the output so far. ` +
			`If the task is still running when the wait ends, the answer says so with the output so far: call wait_task again. Waiting never cancels the task. Use this instead of polling task_status in a loop.`),
		mcp.WithString("task_id", mcp.Required(), mcp.Description(descTaskID)),
		mcp.WithString("until_regex", mcp.Description(`Return as soon as a line of stdout or stderr matches this regular expression (Go RE2 syntax), including lines already printed.`)),
		mcp.WithOutputSchema[TaskView](),
	}, readAnnotations("Wait for a task"))
}

func taskOutputTool(cfg Config) mcp.Tool {
	return tool(ToolTaskOutput, []mcp.ToolOption{
		mcp.WithDescription(`Read a slice of a task's output: the first or last N lines, a line range, or the lines matching a regular expression (with their line numbers). ` +
			`Use it when an answer says output was cut. Works while the task runs (the output so far). Give at most one of head, tail, range and grep; none gives the whole stream. ` +
			`The slice shown is itself bounded to ` + sizeOf(int64(cfg.OutputBytes)) + ` (the answer says what was left out); ask for narrower slices. ` +
			`Line numbers count the lines the fabric kept: all of a stream up to its output limit (1 MiB by default), past that its head and tail around a marker line.`),
		mcp.WithString("task_id", mcp.Required(), mcp.Description(descTaskID)),
		mcp.WithString("stream", mcp.Enum("stdout", "stderr"), mcp.Description(`Which stream: stdout (the default) or stderr.`)),
		mcp.WithNumber("head", mcp.Min(1), mcp.Description(`The first N lines.`)),
		mcp.WithNumber("tail", mcp.Min(1), mcp.Description(`The last N lines.`)),
		mcp.WithString("range", mcp.Description(`Lines FROM-TO, numbered from 1, both included: "10-40"; "100-" runs to the end. An array [10, 40] is accepted too.`)),
		mcp.WithString("grep", mcp.Description(`The lines matching this regular expression (Go RE2 syntax), each prefixed by its line number.`)),
		mcp.WithOutputSchema[OutputView](),
	}, readAnnotations("Read task output"))
}

func cancelTaskTool() mcp.Tool {
	return tool(ToolCancelTask, []mcp.ToolOption{
		mcp.WithDescription(`Cancel a running task: its node kills the task's whole process group (children included). Returns the task's final state and output. Cancelling a task that already ended changes nothing and says how it ended.`),
		mcp.WithString("task_id", mcp.Required(), mcp.Description(descTaskID)),
		mcp.WithOutputSchema[TaskView](),
		mcp.WithTitleAnnotation("Cancel a task"),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	})
}
