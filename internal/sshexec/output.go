package sshexec

import (
	"bytes"
	"strconv"
	"strings"
	"sync"

	"github.com/fabric-run/fabric/internal/capture"
	"github.com/fabric-run/fabric/internal/wire"
)

// maxPreamble bounds the stderr held back while looking for the control
// line: a login shell that chatters more than this before it is keeps its
// chatter, and the command's process group stays unknown.
const maxPreamble = 64 << 10

// runOutput receives a running command's two streams: it keeps each in a
// capture.Buffer, passes them on to the caller's callback, and takes the
// remote program's control line out of stderr. Its writers are called by
// the session's two copying goroutines; the callback is never called
// concurrently.
type runOutput struct {
	marker []byte // "fabric-<nonce> "
	emit   func(wire.Stream, []byte)

	mu      sync.Mutex
	stdout  *capture.Buffer
	stderr  *capture.Buffer
	pending []byte // stderr before the control line
	seen    bool   // the control line was found (or given up on)
	pgid    int
	fail    string
	control chan struct{} // closed when seen becomes true
}

func newRunOutput(marker string, limit int, emit func(wire.Stream, []byte)) *runOutput {
	return &runOutput{
		marker:  []byte(marker),
		emit:    emit,
		stdout:  capture.New(limit),
		stderr:  capture.New(limit),
		control: make(chan struct{}),
	}
}

// streamWriter is the io.Writer of one stream.
type streamWriter struct {
	o *runOutput
	s wire.Stream
}

func (w streamWriter) Write(p []byte) (int, error) {
	w.o.mu.Lock()
	defer w.o.mu.Unlock()
	if w.s == wire.Stdout {
		w.o.keep(wire.Stdout, p)
	} else {
		w.o.writeStderr(p)
	}
	return len(p), nil
}

// keep records p and hands it on; o.mu is held.
func (o *runOutput) keep(s wire.Stream, p []byte) {
	if len(p) == 0 {
		return
	}
	if s == wire.Stdout {
		o.stdout.Write(p)
	} else {
		o.stderr.Write(p)
	}
	if o.emit != nil {
		o.emit(s, p)
	}
}

// writeStderr looks for the control line at the start of a line of stderr
// and passes on everything else; o.mu is held.
func (o *runOutput) writeStderr(p []byte) {
	if o.seen {
		o.keep(wire.Stderr, p)
		return
	}
	o.pending = append(o.pending, p...)
	for start := 0; start < len(o.pending); {
		i := bytes.Index(o.pending[start:], o.marker)
		if i < 0 {
			break
		}
		i += start
		if i > 0 && o.pending[i-1] != '\n' {
			start = i + 1
			continue
		}
		end := bytes.IndexByte(o.pending[i:], '\n')
		if end < 0 {
			// The line is not complete yet: pass on what precedes it.
			o.keep(wire.Stderr, o.pending[:i])
			o.pending = append(o.pending[:0], o.pending[i:]...)
			return
		}
		end += i
		o.keep(wire.Stderr, o.pending[:i])
		o.parseControl(string(o.pending[i+len(o.marker) : end]))
		rest := o.pending[end+1:]
		o.pending = nil
		o.markSeen()
		o.keep(wire.Stderr, rest)
		return
	}
	// No control line yet. Pass on every complete line (the control line
	// starts a line), and a last line that cannot be the start of one.
	cut := bytes.LastIndexByte(o.pending, '\n') + 1
	if last := o.pending[cut:]; !bytes.HasPrefix(o.marker, last) && !bytes.HasPrefix(last, o.marker) {
		cut = len(o.pending)
	}
	o.keep(wire.Stderr, o.pending[:cut])
	o.pending = append(o.pending[:0], o.pending[cut:]...)
	if len(o.pending) > maxPreamble {
		o.flush()
	}
}

// parseControl reads "pid 1234" or "fail why".
func (o *runOutput) parseControl(line string) {
	verb, arg, _ := strings.Cut(line, " ")
	switch verb {
	case verbPID:
		if n, err := strconv.Atoi(strings.TrimSpace(arg)); err == nil && n > 1 {
			o.pgid = n
		}
	case verbFail:
		o.fail = strings.TrimSpace(arg)
	}
}

func (o *runOutput) markSeen() {
	if !o.seen {
		o.seen = true
		close(o.control)
	}
}

// flush passes on what is held back and stops looking for the control
// line; o.mu is held.
func (o *runOutput) flush() {
	p := o.pending
	o.pending = nil
	o.markSeen()
	o.keep(wire.Stderr, p)
}

// finish is called once the session has ended: it passes on anything
// still held back.
func (o *runOutput) finish() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flush()
}

// state returns what the control line said: the process group of the
// command (0 if unknown) and why it did not start ("" if it did).
func (o *runOutput) state() (pgid int, fail string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.pgid, o.fail
}

// fill copies the kept output into res.
func (o *runOutput) fill(res *wire.Result) {
	o.mu.Lock()
	defer o.mu.Unlock()
	res.Stdout, res.StdoutBytes, res.StdoutTruncated = o.stdout.String(), o.stdout.Total(), o.stdout.Truncated()
	res.Stderr, res.StderrBytes, res.StderrTruncated = o.stderr.String(), o.stderr.Total(), o.stderr.Truncated()
}
