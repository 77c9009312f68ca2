package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/fabric-run/fabric/internal/frontend"
)

func (s *Server) handleTaskOutput(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var a outputArgs
	if err := bind(req, &a); err != nil {
		return argError(ToolTaskOutput, err), nil
	}
	id, err := taskID(a.TaskID)
	if err != nil {
		return argError(ToolTaskOutput, err), nil
	}
	q, what, err := a.query()
	if err != nil {
		return argError(ToolTaskOutput, err), nil
	}
	sl, err := s.service().Output(ctx, id, q)
	if err != nil {
		if errors.Is(err, frontend.ErrUnknownTask) {
			return s.unknownTask(ToolTaskOutput, err), nil
		}
		return argError(ToolTaskOutput, err), nil
	}
	v := OutputView{
		TaskID: id, Stream: nonEmpty(q.Stream, "stdout"), Query: what,
		Selected: sl.Shown, Lines: sl.Lines, Bytes: sl.Bytes, KeptAll: !sl.Truncated,
		State: string(sl.State), Running: sl.Running,
	}
	switch {
	case sl.Shown == 0:
	case q.Tail > 0:
		v.FirstLine = sl.Lines - sl.Shown + 1
	case q.From > 0:
		v.FirstLine = q.From
	case q.Grep == nil:
		v.FirstLine = 1
	}
	v.Text, v.Shown = tidy(sl.Text), sl.Shown
	if len(v.Text) > s.cfg.OutputBytes {
		v.cut(v.Text, s.cfg.OutputBytes, q.Tail > 0)
	}
	return answer(v.text(), v), nil
}

// query turns the arguments into an output query and says what it asks.
func (a *outputArgs) query() (frontend.Query, string, error) {
	q := frontend.Query{Stream: strings.ToLower(strings.TrimSpace(a.Stream))}
	var err error
	if q.Head, err = a.Head.count("head", 0, 1); err != nil {
		return q, "", err
	}
	if q.Tail, err = a.Tail.count("tail", 0, 1); err != nil {
		return q, "", err
	}
	if a.Range.set {
		q.From, q.To = a.Range.from, a.Range.to
	}
	if a.Grep != "" {
		if q.Grep, err = regexp.Compile(a.Grep); err != nil {
			return q, "", fmt.Errorf("grep: %w", err)
		}
	}
	// Output checks that at most one is given, and the stream.
	switch {
	case q.Head > 0:
		return q, fmt.Sprintf("head %d", q.Head), nil
	case q.Tail > 0:
		return q, fmt.Sprintf("tail %d", q.Tail), nil
	case a.Range.set && q.To > 0:
		return q, fmt.Sprintf("lines %d-%d", q.From, q.To), nil
	case a.Range.set:
		return q, fmt.Sprintf("lines %d-", q.From), nil
	case q.Grep != nil:
		return q, "grep " + a.Grep, nil
	}
	return q, "all", nil
}

// cut bounds the slice to budget bytes: its last lines for a tail query,
// its first lines otherwise, saying what to ask for next.
func (v *OutputView) cut(text string, budget int, keepEnd bool) {
	lines := splitLines(text)
	n, used := 0, 0
	if keepEnd {
		for n < len(lines) && used+len(lines[len(lines)-1-n])+1 <= budget {
			used += len(lines[len(lines)-1-n]) + 1
			n++
		}
	} else {
		for n < len(lines) && used+len(lines[n])+1 <= budget {
			used += len(lines[n]) + 1
			n++
		}
	}
	v.Cut = true
	if n == 0 { // one line longer than the budget
		v.Text = prefix(lines[0], budget) + " [... line cut]\n"
		v.Shown = 1
		v.Note = fmt.Sprintf("the slice's first line alone is longer than the %s budget; only its start is shown", sizeOf(int64(budget)))
		return
	}
	if keepEnd {
		v.Text = strings.Join(lines[len(lines)-n:], "\n") + "\n"
		v.FirstLine += len(lines) - n
		v.Note = fmt.Sprintf("the slice (%s) is over the %s budget: showing its last %d; ask for range %d-%d for the lines before",
			plural(len(lines), "line"), sizeOf(int64(budget)), n, max(1, v.FirstLine-n), v.FirstLine-1)
	} else {
		v.Text = strings.Join(lines[:n], "\n") + "\n"
		next := "a narrower grep"
		if v.FirstLine > 0 {
			next = fmt.Sprintf("range %d-%d next", v.FirstLine+n, v.FirstLine+2*n-1)
		}
		v.Note = fmt.Sprintf("the slice (%s) is over the %s budget: showing its first %d; ask for %s",
			plural(len(lines), "line"), sizeOf(int64(budget)), n, next)
	}
	v.Shown = n
}

// text renders the slice for reading.
func (v *OutputView) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "task %s %s, %s: %s of the %s kept (%s produced",
		v.TaskID, v.Stream, v.Query, plural(v.Shown, "line"), plural(v.Lines, "line"), sizeOf(v.Bytes))
	if !v.KeptAll {
		b.WriteString("; the fabric kept its head and tail, line numbers count those")
	}
	b.WriteString(")")
	if v.Running {
		b.WriteString("; the task is still running, more may come")
	}
	b.WriteByte('\n')
	if v.FirstLine > 0 && v.Shown > 0 {
		fmt.Fprintf(&b, "first line shown: %d\n", v.FirstLine)
	}
	if v.Note != "" {
		fmt.Fprintf(&b, "note: %s\n", v.Note)
	}
	if v.Shown == 0 {
		b.WriteString("(no lines)\n")
		return b.String()
	}
	b.WriteString("---\n")
	b.WriteString(v.Text)
	return b.String()
}
