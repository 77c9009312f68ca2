package frontend

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
)

// Query selects a slice of a task's kept output: exactly one of Head, Tail,
// a line range (From..To) or Grep; none means all of it.
type Query struct {
	// Stream is "stdout" (default) or "stderr".
	Stream string
	// Head and Tail are line counts from the start or the end.
	Head, Tail int
	// From and To are 1-based line numbers, inclusive; To 0 means the end.
	From, To int
	// Grep keeps the lines that match, prefixed by their line numbers.
	Grep *regexp.Regexp
}

// Slice is the answer to a Query.
type Slice struct {
	Text string
	// Lines is the number of lines in the kept stream; Shown how many are
	// in Text.
	Lines, Shown int
	// Bytes is everything the stream produced; Truncated says the kept copy
	// misses some of it (line numbers count the kept lines).
	Bytes     int64
	Truncated bool
	// Running is set while the task still runs: more may come.
	Running bool
	// State is the task's state when the slice was taken.
	State tasks.State
}

// Output answers q for task id, from memory while this front end follows it,
// else from the stored result.
func (s *Service) Output(ctx context.Context, id string, q Query) (*Slice, error) {
	if err := q.validate(); err != nil {
		return nil, err
	}
	st, err := s.Status(ctx, id)
	if err != nil {
		return nil, err
	}
	res := st.Result
	if res == nil {
		res = st.SoFar
	}
	if res == nil {
		return nil, fmt.Errorf("task %s has no output to show yet (%s)", id, st.State)
	}
	sl := q.apply(res)
	sl.Running, sl.State = st.Running(), st.State
	return sl, nil
}

func (q Query) validate() error {
	n := 0
	if q.Head > 0 {
		n++
	}
	if q.Tail > 0 {
		n++
	}
	if q.From > 0 || q.To > 0 {
		n++
	}
	if q.Grep != nil {
		n++
	}
	if n > 1 {
		return errors.New("give at most one of head, tail, range and grep")
	}
	if q.Head < 0 || q.Tail < 0 || q.From < 0 || q.To < 0 || (q.To > 0 && q.From > q.To) {
		return errors.New("line counts and ranges must be positive, and a range must not end before it starts")
	}
	switch q.Stream {
	case "", "stdout", "stderr":
	default:
		return fmt.Errorf("stream %q: want stdout or stderr", q.Stream)
	}
	return nil
}

// apply answers a valid q from res.
func (q Query) apply(res *wire.Result) *Slice {
	text, total, trunc := res.Stdout, res.StdoutBytes, res.StdoutTruncated
	if q.Stream == "stderr" {
		text, total, trunc = res.Stderr, res.StderrBytes, res.StderrTruncated
	}
	lines := splitLines(text)
	sl := &Slice{Lines: len(lines), Bytes: total, Truncated: trunc}
	var out []string
	switch {
	case q.Head > 0:
		out = lines[:min(q.Head, len(lines))]
	case q.Tail > 0:
		out = lines[max(0, len(lines)-q.Tail):]
	case q.From > 0 || q.To > 0:
		from, to := max(q.From, 1), q.To
		if to == 0 || to > len(lines) {
			to = len(lines)
		}
		if from <= to {
			out = lines[from-1 : to]
		}
	case q.Grep != nil:
		for i, l := range lines {
			if q.Grep.MatchString(l) {
				out = append(out, fmt.Sprintf("%d: %s", i+1, l))
			}
		}
	default:
		out = lines
	}
	sl.Shown = len(out)
	sl.Text = strings.Join(out, "\n")
	if sl.Shown > 0 {
		sl.Text += "\n"
	}
	return sl
}

// splitLines splits text into lines, without a last empty one.
func splitLines(text string) []string {
	if text == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(text, "\n"), "\n")
}
