package mcpserver

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/wire"
)

// Bounds of one progress notification's message.
const (
	progressMaxBytes = 2 << 10
	// progressBacklog is how many lines printed before the relay started
	// (while the task was being placed) the first notifications repeat.
	progressBacklog = 20
)

// progress relays a task's output lines to the client as MCP progress
// notifications, for a call whose client sent a progress token. A nil
// *progress relays nothing.
type progress struct {
	srv   *server.MCPServer
	svc   *frontend.Service
	ctx   context.Context
	token mcp.ProgressToken
	every time.Duration
	sent  float64 // lines relayed so far: the progress value, never decreasing
}

// newProgress returns the relay for a call, or nil when the client asked for
// no progress.
func (s *Server) newProgress(ctx context.Context, req mcp.CallToolRequest) *progress {
	m := req.Params.Meta
	if m == nil || m.ProgressToken == nil {
		return nil
	}
	srv := server.ServerFromContext(ctx)
	if srv == nil {
		return nil
	}
	return &progress{srv: srv, svc: s.service(), ctx: ctx, token: m.ProgressToken, every: s.cfg.ProgressInterval}
}

// send sends one notification; a client not keeping up loses it (mcp-go
// drops notifications when the session's queue is full), never the task.
func (p *progress) send(lines int, msg string) {
	p.sent += float64(max(lines, 1))
	_ = p.srv.SendNotificationToClient(p.ctx, string(mcp.MethodNotificationProgress), map[string]any{
		"progressToken": p.token,
		"progress":      p.sent,
		"message":       msg,
	})
}

// follow announces the task with first, then relays its output lines (the
// recent ones printed before it started, then each new one, at most one
// notification per interval) until stop is called. stop waits for the
// relay to end.
func (p *progress) follow(id, first string) (stop func()) {
	if p == nil {
		return func() {}
	}
	p.send(0, first)
	lines, unlisten, ok := p.svc.Listen(id)
	if !ok {
		return func() {}
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		defer unlisten()
		var pending []string
		if st, err := p.svc.Status(p.ctx, id); err == nil && st.SoFar != nil {
			pending = backlog(st.SoFar)
		}
		var last time.Time
		var timer *time.Timer
		var tick <-chan time.Time
		flush := func() {
			if len(pending) > 0 {
				p.send(len(pending), joinTail(pending, progressMaxBytes))
				pending = pending[:0]
			}
			last = time.Now()
		}
		defer func() {
			if timer != nil {
				timer.Stop()
			}
		}()
		if len(pending) > 0 {
			flush()
		}
		for {
			select {
			case <-quit:
				for drained := false; !drained; { // the lines that came with the end
					select {
					case l := <-lines:
						pending = append(pending, lineText(l))
					default:
						drained = true
					}
				}
				flush()
				return
			case l := <-lines:
				pending = append(pending, lineText(l))
				if wait := p.every - time.Since(last); wait <= 0 {
					flush()
				} else if tick == nil {
					timer = time.NewTimer(wait)
					tick = timer.C
				}
			case <-tick:
				tick, timer = nil, nil
				flush()
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// batchEvery is how often a batch's progress is checked.
const batchEvery = 500 * time.Millisecond

// batch reports how many of a batch's tasks have ended, with progress and
// total, each time the count changes, until stop is called. stop waits for
// the reporter to end.
func (p *progress) batch(ids []string) (stop func()) {
	if p == nil || len(ids) == 0 {
		return func() {}
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(max(p.every, batchEvery))
		defer tick.Stop()
		ended := make([]bool, len(ids))
		n, reported := 0, -1
		check := func() {
			var last string
			for i, id := range ids {
				if ended[i] {
					continue
				}
				st, err := p.svc.Status(p.ctx, id)
				if err != nil || st.Running() {
					continue // not recorded yet, or still going
				}
				ended[i] = true
				n++
				last = fmt.Sprintf("; command %d %s", i+1, st.State)
				if st.Record.Node != "" {
					last += " on " + st.Record.Node
				}
			}
			if n != reported {
				reported = n
				_ = p.srv.SendNotificationToClient(p.ctx, string(mcp.MethodNotificationProgress), map[string]any{
					"progressToken": p.token,
					"progress":      n,
					"total":         len(ids),
					"message":       fmt.Sprintf("%d of %d commands ended%s", n, len(ids), last),
				})
			}
		}
		for {
			check()
			select {
			case <-quit:
				check() // the batch returned: report where it ended
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// backlog returns the last complete lines of the output so far.
func backlog(res *wire.Result) []string {
	var out []string
	for _, s := range []struct {
		text   string
		stream wire.Stream
	}{{res.Stdout, wire.Stdout}, {res.Stderr, wire.Stderr}} {
		ls := splitLines(s.text)
		if !strings.HasSuffix(s.text, "\n") && len(ls) > 0 {
			ls = ls[:len(ls)-1] // unfinished: it comes as a line later
		}
		for _, l := range ls[max(0, len(ls)-progressBacklog):] {
			out = append(out, lineText(frontend.Line{Stream: s.stream, Text: l}))
		}
	}
	return out
}

func lineText(l frontend.Line) string {
	if l.Stream == wire.Stderr {
		return "[stderr] " + l.Text
	}
	return l.Text
}

// joinTail joins lines, keeping the last ones within max bytes.
func joinTail(lines []string, maxBytes int) string {
	n, i := 0, len(lines)
	for i > 0 && n+len(lines[i-1])+1 <= maxBytes {
		n += len(lines[i-1]) + 1
		i--
	}
	if i == len(lines) { // one line longer than the bound
		return "[...] " + suffix(lines[len(lines)-1], maxBytes)
	}
	text := strings.Join(lines[i:], "\n")
	if i > 0 {
		text = "[" + plural(i, "earlier line") + " not shown]\n" + text
	}
	return text
}
