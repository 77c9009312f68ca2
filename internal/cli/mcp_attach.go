package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/fabric-run/fabric/internal/mcpserver"
)

// attachRetry is how often a detached `fabric mcp` tries its servers again.
const attachRetry = time.Second

// attacher opens the session of a `fabric mcp` that started detached, its
// configured servers not answering, and attaches the MCP server to it once
// they do. It owns the session from then on.
type attacher struct {
	a   *app
	log *slog.Logger

	mu      sync.Mutex
	lastErr error
	sess    *session
}

func newAttacher(a *app, log *slog.Logger, err error) *attacher {
	return &attacher{a: a, log: log, lastErr: err}
}

// why is what a tool call of the detached server answers.
func (t *attacher) why() string {
	t.mu.Lock()
	err := t.lastErr
	t.mu.Unlock()
	return fmt.Sprintf("fabric cannot reach its NATS servers (%s) yet: %v. It tries again every %v and runs commands as soon as a server answers: check that the hub runs there (fabric serve) and is reachable from this machine, then call the tool again.",
		strings.Join(t.a.settings.Servers, ","), err, attachRetry)
}

// start tries the servers every attachRetry until a session opens, then
// attaches srv to it. stop ends the attempts and closes the session.
func (t *attacher) start(ctx context.Context, srv *mcpserver.Server) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(attachRetry)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			s, err := t.a.openSession(ctx, t.log, modeShared)
			if err != nil {
				t.mu.Lock()
				t.lastErr = err
				t.mu.Unlock()
				continue
			}
			t.mu.Lock()
			t.sess = s
			t.mu.Unlock()
			srv.Attach(s.svc, serverForModel(s, t.a.settings.Servers))
			// At warn level, as the detached start was: whoever saw that sees this.
			t.log.Warn("MCP server attached: a NATS server answers", "server", s.servers, "records", s.store.Backend())
			return
		}
	}()
	return func() {
		cancel()
		<-done
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.sess != nil {
			t.sess.close()
		}
	}
}
