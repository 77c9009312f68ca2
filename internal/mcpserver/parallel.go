package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/wire"
)

// maxListed bounds the per-command lines of parallel_execute's text; the
// structured results list every command.
const maxListed = 100

func (s *Server) handleParallel(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var a parallelArgs
	if err := bind(req, &a); err != nil {
		return argError(ToolParallelExecute, err), nil
	}
	reqs, opt, err := s.batch(&a)
	if err != nil {
		return argError(ToolParallelExecute, err), nil
	}
	start := time.Now()
	ids := make([]string, len(reqs))
	for i := range reqs {
		reqs[i].ID = wire.NewTaskID()
		ids[i] = reqs[i].ID
	}
	stop := s.newProgress(ctx, req).batch(ids)
	sts, err := s.service().Batch(ctx, reqs, opt)
	stop()
	if err != nil {
		return mcp.NewToolResultError(fmt.Sprintf("parallel_execute: %v", err)), nil
	}
	if ctx.Err() != nil {
		// The client gave up on the call: its commands were foreground.
		s.cancelAll(ctx, sts, "the MCP client cancelled the call")
		return mcp.NewToolResultError("parallel_execute: cancelled by the client; the commands still running were cancelled"), nil
	}
	v := s.parallelView(a.Commands, sts)
	text := v.text(time.Since(start))
	if v.NotRun == len(sts) {
		return failure(text, v), nil
	}
	return answer(text, v), nil
}

// batch builds the batch's requests and options from the arguments.
func (s *Server) batch(a *parallelArgs) ([]frontend.Request, frontend.BatchOptions, error) {
	opt := frontend.BatchOptions{FailFast: bool(a.FailFast), Budget: s.cfg.SyncBudget}
	if len(a.Commands) == 0 {
		return nil, opt, errors.New("commands is required: a non-empty array of shell command lines")
	}
	r, err := requirements(a.RequiresOS, a.RequiresArch, a.RequiresCapabilities, "")
	if err != nil {
		return nil, opt, err
	}
	if opt.MaxParallel, err = a.MaxParallel.count("max_parallel", 0, 0); err != nil {
		return nil, opt, err
	}
	timeout, err := a.TimeoutSeconds.duration("timeout_seconds")
	if err != nil {
		return nil, opt, err
	}
	reqs := make([]frontend.Request, len(a.Commands))
	for i, c := range a.Commands {
		if strings.TrimSpace(c) == "" {
			return nil, opt, fmt.Errorf("commands[%d] (command %d) is empty", i, i+1)
		}
		reqs[i] = frontend.Request{Task: wire.Task{Command: c, Timeout: wire.Duration(timeout), Requires: r}}
		reqs[i].Requires.Capabilities = slices.Clone(r.Capabilities)
	}
	return reqs, opt, nil
}

// cancelAll cancels the batch's tasks that have not ended. Tasks the batch
// has not launched yet cannot be cancelled until it launches them (as the
// cancelled ones free their slots), so this goes round until every task has
// ended or the grace is over.
func (s *Server) cancelAll(ctx context.Context, sts []*frontend.Status, reason string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelGrace)
	defer cancel()
	retry := time.NewTicker(50 * time.Millisecond)
	defer retry.Stop()
	for {
		left := 0
		for _, st := range sts {
			cur, err := s.service().Status(cctx, st.Record.ID)
			if err != nil || !cur.Running() {
				continue
			}
			left++
			if err := s.service().Cancel(cctx, st.Record.ID, reason); err != nil {
				s.log.Debug("cancel batch task", "task", st.Record.ID, "err", err)
			}
		}
		if left == 0 {
			return
		}
		select {
		case <-cctx.Done():
			s.log.Warn("batch tasks left running after the client gave up", "left", left)
			return
		case <-retry.C:
		}
	}
}

// parallelView builds the answer: a result per command, grouped outputs.
func (s *Server) parallelView(commands []string, sts []*frontend.Status) ParallelView {
	v := ParallelView{Commands: len(sts), Nodes: []string{}, ExitCodes: []ExitCount{}, Groups: []GroupView{}, Results: []ItemView{}}
	members := make([]member, len(sts))
	for i, st := range sts {
		tv := taskView(st, 0) // no output: the groups show it
		item := ItemView{
			Number: i + 1, Command: commands[i], TaskID: tv.TaskID, State: tv.State, Node: tv.Node,
			ExitCode: tv.ExitCode, DurationSeconds: tv.DurationSeconds, Error: tv.Error, Message: tv.Message,
		}
		m := member{number: i + 1, node: tv.Node}
		res := st.Result
		if res == nil {
			res = st.SoFar
		}
		if res != nil {
			m.stdout, m.stderr = res.Stdout, res.Stderr
			m.stdoutBytes, m.stderrBytes = res.StdoutBytes, res.StderrBytes
			m.stdoutPart, m.stderrPart = res.StdoutTruncated, res.StderrTruncated
		}
		switch {
		case ranToEnd(st):
			m.outcome = fmt.Sprintf("exit %d", *tv.ExitCode)
			if tv.Signal != "" {
				m.outcome = fmt.Sprintf("killed by %s (exit %d)", tv.Signal, *tv.ExitCode)
			}
			v.countExit(*tv.ExitCode)
		case st.Running():
			m.outcome = "still running"
			if tv.State == "queued" {
				m.outcome = "queued, not started yet"
			}
			v.Running++
		default:
			m.outcome = "did not run: "
			if st.Result != nil || !st.Record.Started.IsZero() {
				m.outcome = "did not finish: "
			}
			m.outcome += nonEmpty(tv.Error, tv.State)
			if tv.Message != "" {
				m.outcome += ": " + tv.Message
			}
			v.NotRun++
		}
		if m.node != "" && !slices.Contains(v.Nodes, m.node) {
			v.Nodes = append(v.Nodes, m.node)
		}
		members[i] = m
		v.Results = append(v.Results, item)
	}
	slices.Sort(v.Nodes)
	slices.SortFunc(v.ExitCodes, func(a, b ExitCount) int { return a.Code - b.Code })

	groups := groupMembers(members)
	outs, errs, both := make([]string, len(groups)), make([]string, len(groups)), make([]string, len(groups))
	for i, g := range groups {
		outs[i], errs[i] = tidy(g.members[0].stdout), tidy(g.members[0].stderr)
		both[i] = outs[i] + errs[i]
	}
	gb, gl := shares(both, s.cfg.OutputBytes, s.cfg.OutputBytes/bytesPerLine)
	for gi, g := range groups {
		m := g.members[0]
		b, l := shares([]string{outs[gi], errs[gi]}, gb[gi], gl[gi])
		gv := GroupView{
			Commands: compactRanges(g.numbers()), Numbers: g.numbers(), Nodes: g.nodes(), Outcome: m.outcome,
			Stdout: streamView("stdout", m.stdout, outs[gi], m.stdoutBytes, m.stdoutPart, b[0], l[0]),
			Stderr: streamView("stderr", m.stderr, errs[gi], m.stderrBytes, m.stderrPart, b[1], l[1]),
		}
		v.Groups = append(v.Groups, gv)
		for _, mm := range g.members {
			v.Results[mm.number-1].Group = gi + 1
		}
	}
	v.Summary = v.summary()
	if v.Running > 0 {
		v.Next = fmt.Sprintf("%d of the commands are still running after the %s sync budget, and NOT killed: call wait_task with each one's task id to wait for it.",
			v.Running, seconds(s.cfg.SyncBudget))
	}
	return v
}

func (v *ParallelView) countExit(code int) {
	for i := range v.ExitCodes {
		if v.ExitCodes[i].Code == code {
			v.ExitCodes[i].Count++
			return
		}
	}
	v.ExitCodes = append(v.ExitCodes, ExitCount{Code: code, Count: 1})
}

// summary is the counts line and the group labels.
func (v *ParallelView) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", plural(v.Commands, "command"))
	if len(v.Nodes) > 0 {
		fmt.Fprintf(&b, " on %s (%s)", plural(len(v.Nodes), "node"), strings.Join(v.Nodes, ", "))
	}
	b.WriteString(":")
	var parts []string
	for _, e := range v.ExitCodes {
		parts = append(parts, fmt.Sprintf(" exit %d ×%d", e.Code, e.Count))
	}
	if v.NotRun > 0 {
		parts = append(parts, fmt.Sprintf(" did not run or finish ×%d", v.NotRun))
	}
	if v.Running > 0 {
		parts = append(parts, fmt.Sprintf(" still running ×%d", v.Running))
	}
	b.WriteString(strings.Join(parts, ","))
	b.WriteByte('\n')
	for _, g := range v.Groups {
		b.WriteString(g.label())
		b.WriteByte('\n')
	}
	return b.String()
}

// text renders the answer: counts, each group's label and output once, and
// a line per command.
func (v *ParallelView) text(took time.Duration) string {
	var b strings.Builder
	first, _, _ := strings.Cut(v.Summary, "\n")
	fmt.Fprintf(&b, "%s (%s)\n", first, took.Round(time.Millisecond))
	for _, g := range v.Groups {
		fmt.Fprintf(&b, "\n== %s ==\n", g.label())
		if len(g.Nodes) > 0 || g.Stdout.Bytes+g.Stderr.Bytes > 0 {
			writeStreams(&b, g.Stdout, g.Stderr, g.Outcome == "still running")
		}
	}
	b.WriteString("\nper command (number, node, outcome, duration, task id, command):\n")
	for i, r := range v.Results {
		if i == maxListed {
			fmt.Fprintf(&b, "... %d more in the structured results\n", len(v.Results)-maxListed)
			break
		}
		outcome := r.State
		if r.ExitCode != nil {
			outcome = fmt.Sprintf("exit %d", *r.ExitCode)
		} else if r.Error != "" {
			outcome = r.Error
		}
		fmt.Fprintf(&b, "%3d  %-12s %-14s %7.2fs  %s  %s\n", r.Number, nonEmpty(r.Node, "-"), outcome, r.DurationSeconds, r.TaskID, oneLine(r.Command, 80))
	}
	if v.Next != "" {
		fmt.Fprintf(&b, "next: %s\n", v.Next)
	}
	return b.String()
}

// oneLine shortens s to one line of at most n bytes.
func oneLine(s string, n int) string {
	s, _, cut := strings.Cut(s, "\n")
	if len(s) > n {
		s, cut = prefix(s, n), true
	}
	if cut {
		s += " [...]"
	}
	return s
}
