package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// fixture is an MCP server with its cluster, reached through mcp-go's
// client: in process, or `fabric mcp` over stdio.
type fixture struct {
	// c's server waits callBudget per command call; short's waits
	// shortBudget. Both run tasks on the same cluster and records.
	c, short *client.Client
	// progress collects c's progress notifications.
	progress *progressLog
	// local is this machine's node; nodes are all the nodes.
	local string
	nodes []string
	// missingCap is a capability no node has.
	missingCap string
}

const (
	callBudget  = 20 * time.Second
	shortBudget = 300 * time.Millisecond
	// patience bounds every wait of a test for something to happen.
	patience = 20 * time.Second
)

func callRequest(args map[string]any) mcp.CallToolRequest {
	return mcp.CallToolRequest{Params: mcp.CallToolParams{Arguments: args}}
}

// initialize runs the MCP handshake, as Claude Code does.
func initialize(t testing.TB, c *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	req := mcp.InitializeRequest{Params: mcp.InitializeParams{
		ProtocolVersion: mcp.ProtocolVersion20250618,
		ClientInfo:      mcp.Implementation{Name: "fabric-test", Version: "1"},
	}}
	res, err := c.Initialize(ctx, req)
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	if res.ServerInfo.Name != Name || !strings.Contains(res.Instructions, "wait_task") {
		t.Fatalf("initialize = %+v", res)
	}
}

// call calls a tool and fails the test on a protocol error (a tool error is
// a result).
func call(t testing.TB, c *client.Client, tool string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*patience)
	defer cancel()
	return callCtx(t, ctx, c, tool, args, "")
}

// callToolRequest is a tools/call request, asking for progress if token is
// not empty.
func callToolRequest(tool string, args map[string]any, token string) mcp.CallToolRequest {
	req := mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tool, Arguments: args}}
	if token != "" {
		req.Params.Meta = &mcp.Meta{ProgressToken: token}
	}
	return req
}

func callCtx(t testing.TB, ctx context.Context, c *client.Client, tool string, args map[string]any, token string) *mcp.CallToolResult {
	t.Helper()
	res, err := c.CallTool(ctx, callToolRequest(tool, args, token))
	if err != nil {
		t.Fatalf("%s(%v): %v", tool, args, err)
	}
	return res
}

// text returns a result's text content.
func text(r *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// decode decodes a result's structured content into v.
func decode(t testing.TB, r *mcp.CallToolResult, v any) {
	t.Helper()
	b, err := json.Marshal(r.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("structured content %s: %v", b, err)
	}
}

// ok checks r is not a tool error and decodes it.
func ok[T any](t testing.TB, r *mcp.CallToolResult) T {
	t.Helper()
	if r.IsError {
		t.Fatalf("unexpected tool error: %s", text(r))
	}
	var v T
	decode(t, r, &v)
	return v
}

// failed checks r is a tool error whose text says all of want.
func failed(t testing.TB, r *mcp.CallToolResult, want ...string) string {
	t.Helper()
	tx := text(r)
	if !r.IsError {
		t.Fatalf("not a tool error: %s", tx)
	}
	for _, w := range want {
		if !strings.Contains(tx, w) {
			t.Errorf("tool error lacks %q:\n%s", w, tx)
		}
	}
	return tx
}

// progressLog collects progress notifications by token.
type progressLog struct {
	mu      sync.Mutex
	msgs    map[string][]string
	values  map[string][]float64
	changed chan struct{}
}

func newProgressLog(c *client.Client) *progressLog {
	p := &progressLog{msgs: map[string][]string{}, values: map[string][]float64{}, changed: make(chan struct{})}
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method != string(mcp.MethodNotificationProgress) {
			return
		}
		f := n.Params.AdditionalFields
		tok := fmt.Sprint(f["progressToken"])
		msg, _ := f["message"].(string)
		val, _ := f["progress"].(float64)
		p.mu.Lock()
		p.msgs[tok] = append(p.msgs[tok], msg)
		p.values[tok] = append(p.values[tok], val)
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	})
	return p
}

// wait waits until the messages of token satisfy cond, and returns them.
func (p *progressLog) wait(t testing.TB, token string, cond func(msgs []string) bool) []string {
	t.Helper()
	deadline := time.NewTimer(patience)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		msgs := append([]string(nil), p.msgs[token]...)
		changed := p.changed
		p.mu.Unlock()
		if cond(msgs) {
			return msgs
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("progress for %s: condition not met; got %q", token, msgs)
		}
	}
}

func (p *progressLog) get(token string) ([]string, []float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.msgs[token]...), append([]float64(nil), p.values[token]...)
}

// matching returns the first submatches of re in msgs, or nil.
func matching(msgs []string, re *regexp.Regexp) []string {
	for _, m := range msgs {
		if sm := re.FindStringSubmatch(m); sm != nil {
			return sm
		}
	}
	return nil
}

// eventually polls cond until it holds or patience runs out.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, patience)
		}
		<-tick.C
	}
}
