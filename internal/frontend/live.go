package frontend

import (
	"bytes"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/fabric-run/fabric/internal/capture"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
)

// maxLineLen bounds a line handed to listeners (progress, until_regex); a
// longer run of output without a newline is cut into pieces of this size.
const maxLineLen = 4 << 10

// Line is one line of a task's output.
type Line struct {
	Stream wire.Stream
	Text   string // without the newline
}

// live is a task this front end is running: its record, its output so far
// and those listening to it.
type live struct {
	id     string
	cancel func(error)
	raw    wire.OutputFunc // also gets the output as it streams; may be nil
	// accepted, if set, is told the node once one accepted the task.
	accepted func(id, node string)
	placed   chan struct{} // closed once a node accepted the task or it failed to place
	done     chan struct{} // closed once the task ended (or failed to place)

	mu        sync.Mutex
	rec       tasks.Record
	stdout    *capture.Buffer
	stderr    *capture.Buffer
	partial   [3][]byte // unfinished line per stream
	listeners map[chan Line]struct{}
	result    *wire.Result
	err       error    // why it did not run, if it did not
	declined  []string // the nodes that did not take it, with why
}

func newLive(rec tasks.Record, limit int, cancel func(error)) *live {
	return &live{
		id: rec.ID, rec: rec, cancel: cancel,
		placed: make(chan struct{}), done: make(chan struct{}),
		stdout: capture.New(limit), stderr: capture.New(limit),
		listeners: map[chan Line]struct{}{},
	}
}

// append takes streamed output: it keeps it and passes complete lines to the
// listeners (dropping lines for a listener that is not keeping up).
func (l *live) append(s wire.Stream, p []byte) {
	if l.raw != nil {
		l.raw(s, p)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if s == wire.Stderr {
		l.stderr.Write(p)
	} else {
		s = wire.Stdout
		l.stdout.Write(p)
	}
	if len(l.listeners) == 0 {
		// Nobody listens (the common case: a build streaming megabytes):
		// keep only the line in progress, for a listener yet to come.
		l.partial[s] = unfinished(l.partial[s], p)
		return
	}
	buf := append(l.partial[s], p...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			if len(buf) < maxLineLen {
				break
			}
			i = maxLineLen
			l.emit(Line{Stream: s, Text: string(buf[:i])})
			buf = buf[i:]
			continue
		}
		l.emit(Line{Stream: s, Text: string(buf[:i])})
		buf = buf[i+1:]
	}
	l.partial[s] = append(l.partial[s][:0], buf...)
}

// unfinished returns the line in progress once p follows partial: what
// follows the last newline, less the whole pieces of maxLineLen that a
// listener would have been given.
func unfinished(partial, p []byte) []byte {
	if i := bytes.LastIndexByte(p, '\n'); i >= 0 {
		partial, p = partial[:0], p[i+1:]
	}
	if n := len(partial) + len(p); n >= maxLineLen {
		skip := n / maxLineLen * maxLineLen
		if skip >= len(partial) {
			return append(partial[:0], p[skip-len(partial):]...)
		}
		partial = append(partial[:0], partial[skip:]...)
	}
	return append(partial, p...)
}

func (l *live) emit(line Line) {
	for ch := range l.listeners {
		select {
		case ch <- line:
		default: // a slow listener loses lines, never blocks the task
		}
	}
}

// listen registers for output lines from now on. Stop with the returned func.
func (l *live) listen() (<-chan Line, func()) {
	ch := make(chan Line, 256)
	l.mu.Lock()
	l.listeners[ch] = struct{}{}
	l.mu.Unlock()
	return ch, func() {
		l.mu.Lock()
		delete(l.listeners, ch)
		l.mu.Unlock()
	}
}

// matches reports whether re matches any line of the output kept so far.
func (l *live) matches(re *regexp.Regexp) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	texts := []string{l.stdout.String(), l.stderr.String()}
	if l.result != nil {
		texts = []string{l.result.Stdout, l.result.Stderr}
	}
	for _, text := range texts {
		for _, line := range splitLines(text) {
			if re.MatchString(line) {
				return true
			}
		}
	}
	return false
}

// snapshot returns the record, the result if any, and the output so far.
func (l *live) snapshot() (tasks.Record, *wire.Result, *wire.Result, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.result != nil {
		return l.rec, l.result, nil, l.err
	}
	sofar := &wire.Result{
		ID: l.id, Node: l.rec.Node,
		Stdout: l.stdout.String(), StdoutBytes: l.stdout.Total(), StdoutTruncated: l.stdout.Truncated(),
		Stderr: l.stderr.String(), StderrBytes: l.stderr.Total(), StderrTruncated: l.stderr.Truncated(),
		Started: l.rec.Started,
	}
	if !l.rec.Started.IsZero() {
		sofar.Duration = wire.Duration(time.Since(l.rec.Started))
	}
	return l.rec, nil, sofar, l.err
}

// ended keeps the task's result. What was kept of its output as it
// streamed is dropped: the result holds it (a finished task stays in memory
// for KeepLive, and its output need not be there twice).
func (l *live) ended(res *wire.Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.result = res
	l.stdout, l.stderr = capture.New(0), capture.New(0)
}

// setDeclined records the nodes that did not take the task.
func (l *live) setDeclined(d []string) {
	l.mu.Lock()
	l.declined = d
	l.mu.Unlock()
}

// declinedList returns the nodes that did not take the task, with why.
func (l *live) declinedList() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.declined)
}

func (l *live) update(f func(*tasks.Record)) tasks.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(&l.rec)
	return l.rec
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
