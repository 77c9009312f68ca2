package mcpserver

import (
	"fmt"
	"strings"
	"time"

	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
)

// streams returns the views of a result's two streams within budget bytes
// (shared fairly: a short stream leaves its share to the other).
func streams(res *wire.Result, budget int) (stdout, stderr StreamView) {
	if res == nil {
		return StreamView{}, StreamView{}
	}
	out, errs := tidy(res.Stdout), tidy(res.Stderr)
	b, l := shares([]string{out, errs}, budget, budget/bytesPerLine)
	return streamView("stdout", res.Stdout, out, res.StdoutBytes, res.StdoutTruncated, b[0], l[0]),
		streamView("stderr", res.Stderr, errs, res.StderrBytes, res.StderrTruncated, b[1], l[1])
}

// streamView shows what budget bytes and maxLines lines allow of a stream
// the fabric kept as kept (all it produced, total bytes, unless keptPart);
// shown is kept tidied.
func streamView(name, kept, shown string, total int64, keptPart bool, budget, maxLines int) StreamView {
	c := clip(shown, budget, maxLines)
	if total < int64(len(kept)) && !keptPart {
		total = int64(len(kept))
	}
	v := StreamView{Text: c.text, Bytes: total, Lines: c.lines, Cut: c.cut || keptPart}
	switch {
	case c.cut && keptPart:
		v.Note = fmt.Sprintf("%s: %s, of which the fabric kept the head and tail (%s, %s); showing the first %d and last %d of those lines; task_output gets any slice",
			name, sizeOf(total), sizeOf(int64(len(kept))), plural(c.lines, "line"), c.head, c.tail)
	case c.cut:
		v.Note = fmt.Sprintf("%s: %s, %s, showing the first %d and last %d; task_output gets any slice",
			name, sizeOf(total), plural(c.lines, "line"), c.head, c.tail)
	case keptPart:
		v.Note = fmt.Sprintf("%s: %s, of which the fabric kept the head and tail (%s, shown whole around a marker line); the rest is gone",
			name, sizeOf(total), sizeOf(int64(len(kept))))
	}
	return v
}

// taskView is what the tools show of a task, output within budget bytes
// (none with budget 0).
func taskView(st *frontend.Status, budget int) TaskView {
	rec := &st.Record
	v := TaskView{
		TaskID: rec.ID, State: string(st.State), Node: rec.Node, Command: rec.Display(),
		Routing: rec.Reason, Error: string(rec.Error), Message: rec.Message, Running: st.Running(),
	}
	res := st.Result
	if res == nil {
		res = st.SoFar
	}
	if res != nil {
		if budget > 0 {
			v.Stdout, v.Stderr = streams(res, budget)
		}
		v.DurationSeconds = res.Duration.D().Seconds()
		if res.Node != "" {
			v.Node = res.Node
		}
	}
	if r := st.Result; r != nil {
		if r.Ran() {
			code := r.ExitCode
			v.ExitCode, v.Signal = &code, r.Signal
		}
		if r.Error != wire.ErrNone {
			v.Error, v.Message = string(r.Error), r.Message
		}
	}
	if v.DurationSeconds == 0 && !rec.Started.IsZero() {
		end := rec.Finished
		if end.IsZero() {
			end = time.Now()
		}
		v.DurationSeconds = end.Sub(rec.Started).Seconds()
	}
	v.DurationSeconds = float64(time.Duration(v.DurationSeconds*float64(time.Second)).Round(time.Millisecond).Milliseconds()) / 1000
	if st.Note != "" {
		v.Message = strings.TrimPrefix(v.Message+"; "+st.Note, "; ")
	}
	if st.Matched {
		m := true
		v.Matched = &m
	}
	addExtras(&v, st)
	return v
}

// ranToEnd reports whether a task ended having run its command to the end,
// whatever its exit code.
func ranToEnd(st *frontend.Status) bool {
	return st.Result != nil && st.Result.Ran() && st.State != tasks.StateLost && st.State != tasks.StateCancelled
}

// headline is the first line of a task's text.
func headline(v *TaskView) string {
	dur := time.Duration(v.DurationSeconds * float64(time.Second)).Round(time.Millisecond)
	on := ""
	if v.Node != "" {
		on = " on " + v.Node
	}
	var b strings.Builder
	switch {
	case v.ExitCode != nil && v.Signal != "":
		fmt.Fprintf(&b, "killed by %s (exit %d)%s after %s", v.Signal, *v.ExitCode, on, dur)
	case v.ExitCode != nil:
		fmt.Fprintf(&b, "exit %d%s in %s", *v.ExitCode, on, dur)
	case v.State == string(tasks.StateQueued) && v.Node != "" && v.Waiting != "":
		fmt.Fprintf(&b, "queued%s: %s", on, v.Waiting)
	case v.State == string(tasks.StateQueued):
		b.WriteString("queued: not on a node yet")
	case v.Running:
		fmt.Fprintf(&b, "running%s for %s so far", on, dur)
	case v.Node == "":
		fmt.Fprintf(&b, "could not run (%s): %s", nonEmpty(v.Error, v.State), nonEmpty(v.Message, "no reason recorded"))
	default:
		fmt.Fprintf(&b, "%s%s", nonEmpty(v.Error, v.State), on)
		if dur > 0 {
			fmt.Fprintf(&b, " after %s", dur)
		}
		if v.Message != "" {
			fmt.Fprintf(&b, ": %s", v.Message)
		}
	}
	if v.TaskID != "" {
		fmt.Fprintf(&b, " (task %s)", v.TaskID)
	}
	return b.String()
}

// text renders a task view for reading.
func (v *TaskView) text() string {
	var b strings.Builder
	b.WriteString(headline(v))
	b.WriteByte('\n')
	if v.Routing != "" {
		fmt.Fprintf(&b, "routing: %s\n", v.Routing)
	}
	b.WriteString(extrasText(v))
	if v.Message != "" && (v.ExitCode != nil || v.Running) {
		fmt.Fprintf(&b, "note: %s\n", v.Message)
	}
	if v.Matched != nil {
		fmt.Fprintf(&b, "until_regex matched: %t\n", *v.Matched)
	}
	if v.Node != "" || v.Stdout.Bytes+v.Stderr.Bytes > 0 {
		writeStreams(&b, v.Stdout, v.Stderr, v.Running)
	}
	if v.Next != "" {
		fmt.Fprintf(&b, "next: %s\n", v.Next)
	}
	return b.String()
}

// writeStreams writes the stream blocks: a header line each (saying what
// was cut), then the text.
func writeStreams(b *strings.Builder, out, errs StreamView, running bool) {
	so := ""
	if running {
		so = " so far"
	}
	if out.Bytes == 0 && errs.Bytes == 0 {
		fmt.Fprintf(b, "(no output%s)\n", so)
		return
	}
	for _, s := range []struct {
		name string
		v    StreamView
	}{{"stdout", out}, {"stderr", errs}} {
		if s.v.Bytes == 0 {
			continue
		}
		if s.v.Note != "" {
			fmt.Fprintf(b, "--- %s ---\n", s.v.Note)
		} else {
			fmt.Fprintf(b, "--- %s%s (%s) ---\n", s.name, so, plural(s.v.Lines, "line"))
		}
		b.WriteString(s.v.Text)
		if !strings.HasSuffix(s.v.Text, "\n") {
			b.WriteString("\n[no newline at the end]\n")
		}
	}
}

func nonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
