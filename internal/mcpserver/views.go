package mcpserver

// The structured content of the tools' answers. Each answer's text says the
// same for people and models that read text; these types are its JSON, and
// their schemas are the tools' output schemas. Output in them is bounded
// exactly as in the text.

// StreamView is what an answer shows of one output stream.
type StreamView struct {
	// Bytes is everything the stream produced.
	Bytes int64 `json:"bytes" jsonschema:"bytes the stream produced in all"`
	// Lines counts the lines the fabric kept.
	Lines int `json:"lines" jsonschema:"lines the fabric kept of the stream (task_output numbers these)"`
	// Cut says Text is not all of the stream.
	Cut bool `json:"cut" jsonschema:"true when text is not the whole stream"`
	// Note says exactly what was cut, when something was.
	Note string `json:"note,omitempty" jsonschema:"what was cut and how to get the rest"`
	// Text is the part shown: all of the kept output if it fits the budget,
	// else whole lines from its head and its tail around a marker line.
	// Terminal control sequences are left out, and a line redrawn with
	// carriage returns shows as its last state.
	Text string `json:"text" jsonschema:"the output shown: all of it, or its head and tail around a marker line"`
}

// TaskView is a task as task_status, wait_task and cancel_task return it,
// and the body of a command tool's answer. Fields are in reading order:
// Claude Code hands the structured content, not the text, to the model.
type TaskView struct {
	TaskID string `json:"task_id,omitempty" jsonschema:"the task id, for wait_task, task_status, task_output and cancel_task"`
	// State is queued, running, done, failed, cancelled or lost.
	State string `json:"state" jsonschema:"queued, running, done, failed, cancelled or lost"`
	// Running is true while the task has not ended.
	Running bool   `json:"running" jsonschema:"true while the task has not ended"`
	Node    string `json:"node,omitempty" jsonschema:"the node it runs or ran on"`
	Command string `json:"command,omitempty"`
	// ExitCode is set once the command ran to its end.
	ExitCode *int   `json:"exit_code,omitempty" jsonschema:"the command's exit code, once it ran to its end"`
	Signal   string `json:"signal,omitempty" jsonschema:"the signal that ended the process, if one did"`
	// DurationSeconds is the run time, or the time so far.
	DurationSeconds float64 `json:"duration_seconds" jsonschema:"run time (so far, while running), seconds"`
	// Error classifies why the task did not run or did not finish.
	Error   string `json:"error,omitempty" jsonschema:"why it did not run or finish: no_match, unknown_node, rejected, busy, timeout, cancelled, node_lost, start_failed, unavailable"`
	Message string `json:"message,omitempty" jsonschema:"more about error, or about the state"`
	// Help says what would help when the task could not run or finish.
	Help string `json:"help,omitempty" jsonschema:"what would help, when it could not run or finish"`
	// Next says what to do next, when there is something to do.
	Next string `json:"next,omitempty" jsonschema:"what to do next"`
	// Matched is set by wait_task with until_regex.
	Matched *bool `json:"matched,omitempty" jsonschema:"wait_task with until_regex: whether a line matched"`
	// Waiting says what a queued task its node took waits for.
	Waiting string `json:"waiting,omitempty" jsonschema:"what a queued task waits for, e.g. waiting for lock build (2 ahead)"`
	// Locks are the cluster-wide locks it takes.
	Locks []string `json:"locks,omitempty" jsonschema:"the cluster-wide locks it holds while it runs"`
	// Key is its idempotency key; Attached says this call's key named it.
	Key      string `json:"idempotency_key,omitempty"`
	Attached bool   `json:"attached,omitempty" jsonschema:"true when the call's idempotency_key named this task, submitted before: it was not run again"`
	// Attempts are the earlier tries of a retried task.
	Attempts []AttemptView `json:"attempts,omitempty" jsonschema:"earlier tries that ended in a kind retry_on named"`
	// Routing is the one-line reason the task went where it went.
	Routing string     `json:"routing,omitempty" jsonschema:"why the task went to its node"`
	Stdout  StreamView `json:"stdout"`
	Stderr  StreamView `json:"stderr"`
}

// PlanView is the routing decision of a dry run.
type PlanView struct {
	// Node is where the command would run ("" when no node can take it now).
	Node      string   `json:"node" jsonschema:"the node the command would run on; empty if none can take it now"`
	Fallbacks []string `json:"fallbacks" jsonschema:"nodes tried next if the first does not accept, in order"`
	// Requires is what the command needs, explicit plus inferred.
	Requires RequiresView `json:"requires"`
	// Programs are the programs the command runs, as fabric read them.
	Programs []string `json:"programs" jsonschema:"the programs the command runs, as fabric read them"`
	Class    string   `json:"class" jsonschema:"light (stays on this machine), heavy or normal"`
	Reason   string   `json:"reason" jsonschema:"the one-line routing reason, or why nothing matches"`
	// NotChosen are the nodes left out, and why.
	NotChosen []SkipView `json:"not_chosen" jsonschema:"nodes left out, and why"`
}

// RequiresView is what a command requires of its node.
type RequiresView struct {
	OS           string   `json:"os,omitempty"`
	Arch         string   `json:"arch,omitempty"`
	Capabilities []string `json:"capabilities"`
	Node         string   `json:"node,omitempty"`
}

// SkipView is a node left out of a decision.
type SkipView struct {
	Node string `json:"node"`
	Why  string `json:"why"`
}

// RunView is the answer of cluster_bash and offload_to: a task, or with
// dry_run the plan alone.
type RunView struct {
	TaskView
	DryRun *PlanView `json:"dry_run,omitempty" jsonschema:"dry_run only: the routing decision; nothing ran"`
}

// ParallelView is the answer of parallel_execute.
type ParallelView struct {
	// Summary is the grouped account, as in the text.
	Summary   string      `json:"summary"`
	Commands  int         `json:"commands"`
	Nodes     []string    `json:"nodes" jsonschema:"the nodes the commands ran on"`
	ExitCodes []ExitCount `json:"exit_codes" jsonschema:"how many commands exited with each code"`
	NotRun    int         `json:"not_run" jsonschema:"commands that could not run or did not finish (see each result's error)"`
	Running   int         `json:"running" jsonschema:"commands still running when the call returned; wait_task each"`
	// Next says what to do next, when there is something to do.
	Next string `json:"next,omitempty" jsonschema:"what to do next"`
	// Groups are the commands with identical outcome and output.
	Groups []GroupView `json:"groups"`
	// Results are per command, in input order.
	Results []ItemView `json:"results" jsonschema:"one per command, in input order"`
}

// ExitCount is how many commands exited with Code.
type ExitCount struct {
	Code  int `json:"code"`
	Count int `json:"count"`
}

// GroupView is a set of commands with the same outcome and output.
type GroupView struct {
	// Commands lists the command numbers compactly: "1,3,4-7".
	Commands string   `json:"commands" jsonschema:"the command numbers, e.g. 1,3,4-7"`
	Numbers  []int    `json:"numbers" jsonschema:"the command numbers, from 1"`
	Nodes    []string `json:"nodes"`
	// Outcome is "exit 0", "still running", or why they did not run.
	Outcome string     `json:"outcome"`
	Stdout  StreamView `json:"stdout"`
	Stderr  StreamView `json:"stderr"`
}

// ItemView is one command of a parallel_execute.
type ItemView struct {
	Number          int     `json:"number" jsonschema:"the command's number, from 1, in input order"`
	Command         string  `json:"command"`
	TaskID          string  `json:"task_id"`
	State           string  `json:"state"`
	Node            string  `json:"node,omitempty"`
	ExitCode        *int    `json:"exit_code,omitempty"`
	DurationSeconds float64 `json:"duration_seconds"`
	Error           string  `json:"error,omitempty"`
	Message         string  `json:"message,omitempty"`
	// Group is the number (from 1) of the group that shows its output.
	Group int `json:"group" jsonschema:"the number (from 1) of the group that shows this command's output"`
}

// ClusterView is the answer of cluster_status.
type ClusterView struct {
	// LocalNode is this machine's node id ("" if none is known).
	LocalNode string `json:"local_node" jsonschema:"this machine's node id (empty if no node runs here)"`
	// Server is how the fabric reaches the cluster.
	Server  string      `json:"server"`
	Records RecordsView `json:"records"`
	// SyncBudgetSeconds is how long a command call waits.
	SyncBudgetSeconds float64    `json:"sync_budget_seconds"`
	Nodes             []NodeView `json:"nodes"`
}

// RecordsView says where task records are kept.
type RecordsView struct {
	Backend string `json:"backend" jsonschema:"jetstream (kept by the hub) or memory (lost when this MCP server exits)"`
	Note    string `json:"note"`
}

// NodeView is one node in cluster_status.
type NodeView struct {
	ID               string   `json:"id"`
	Hostname         string   `json:"hostname"`
	OS               string   `json:"os"`
	Arch             string   `json:"arch"`
	Capabilities     []string `json:"capabilities"`
	CPUPercent       float64  `json:"cpu_percent"`
	MemPercent       float64  `json:"mem_percent"`
	Load1            float64  `json:"load1"`
	Load5            float64  `json:"load5"`
	Load15           float64  `json:"load15"`
	CPUs             int      `json:"cpus"`
	Running          int      `json:"running"`
	Slots            int      `json:"slots"`
	State            string   `json:"state" jsonschema:"ready, draining, leaving or stale (workers); ready or unreachable (ssh)"`
	LastSeen         string   `json:"last_seen" jsonschema:"time of its last heartbeat, or of its last SSH probe (RFC 3339)"`
	SecondsSinceSeen float64  `json:"seconds_since_seen"`
	Via              string   `json:"via" jsonschema:"worker (a fabric node over NATS) or ssh"`
	Version          string   `json:"version"`
	Local            bool     `json:"local" jsonschema:"true for this machine's node"`
	Reason           string   `json:"reason,omitempty" jsonschema:"why an ssh node is unreachable"`
	GPUs             int      `json:"gpus,omitempty" jsonschema:"GPU devices the node hands out, one task each"`
	GPUsFree         int      `json:"gpus_free,omitempty" jsonschema:"GPU devices no task holds"`
	Full             []string `json:"full,omitempty" jsonschema:"capabilities the node takes no more tasks for now (its limit, or no GPU free)"`
}

// OutputView is the answer of task_output.
type OutputView struct {
	TaskID string `json:"task_id"`
	Stream string `json:"stream"`
	// Query says which slice was asked for: "head 20", "lines 10-40", ...
	Query string `json:"query"`
	Text  string `json:"text"`
	// FirstLine is the number of the first line of Text (0 for none; grep
	// lines carry their own numbers).
	FirstLine int `json:"first_line" jsonschema:"number of the first line shown (grep lines carry their own)"`
	// Shown is how many lines Text has; Selected how many the query selected.
	Shown    int `json:"shown"`
	Selected int `json:"selected"`
	// Lines counts the kept lines of the stream; Bytes all it produced.
	Lines int   `json:"lines"`
	Bytes int64 `json:"bytes"`
	// KeptAll is false when the fabric kept only the head and tail.
	KeptAll bool   `json:"kept_all" jsonschema:"false when the fabric kept only the stream's head and tail"`
	Cut     bool   `json:"cut" jsonschema:"true when the slice did not fit the answer's budget"`
	Note    string `json:"note,omitempty"`
	State   string `json:"state"`
	Running bool   `json:"running"`
}
