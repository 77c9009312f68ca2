package mcpserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/runner"
)

// fabricBin is the fabric binary, built once for the package's tests.
var fabricBin string

// TestMain builds the fabric binary, runs the tests, and fails the run if
// goroutines outlive them (every call, follower, client and hub must be
// gone by the end).
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fabric-mcp-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fabricBin = filepath.Join(dir, "fabric")
	build := exec.Command("go", "build", "-o", fabricBin, "../../cmd/fabric")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build fabric:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := fabrictest.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// stdioNode is the name of the node of the local hub `fabric mcp` starts.
const stdioNode = "mcp-test-node"

// stdioEnv is a clean environment (none of the developer's FABRIC_*) with
// a state directory of the test's own, so the local hub `fabric mcp`
// starts in the background is the test's alone; it is stopped at cleanup.
func stdioEnv(t *testing.T) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FABRIC_") {
			env = append(env, kv)
		}
	}
	state := t.TempDir()
	t.Cleanup(func() { stopLocalHub(t, state) })
	return append(env, "FABRIC_STATE_DIR="+state, "FABRIC_GUARD_DENY="+forbidden, "FABRIC_SLOTS=8",
		"FABRIC_NODE_NAME="+stdioNode, "FABRIC_DRAIN_GRACE=1")
}

// stopLocalHub stops the local hub advertised in state (if one was started)
// and waits for it to be gone.
func stopLocalHub(t *testing.T, state string) {
	b, err := os.ReadFile(filepath.Join(state, "hub.json"))
	if err != nil {
		return // no hub was started, or it withdrew when it stopped
	}
	var adv struct{ PID int }
	if err := json.Unmarshal(b, &adv); err != nil || adv.PID <= 0 {
		t.Errorf("hub.json %s: %v", b, err)
		return
	}
	proc, err := os.FindProcess(adv.PID)
	if err != nil {
		return // gone already
	}
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Kill} {
		if err := proc.Signal(sig); err != nil {
			return // gone already
		}
		// Not our child: poll for its death against a deadline.
		deadline := time.Now().Add(patience / 2)
		tick := time.NewTicker(10 * time.Millisecond)
		for runner.Alive(adv.PID) && time.Now().Before(deadline) {
			<-tick.C
		}
		tick.Stop()
		if !runner.Alive(adv.PID) {
			return
		}
	}
	t.Errorf("local hub %d still running", adv.PID)
}

// lockedBuffer collects a process's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stdioClient runs `fabric mcp` with env (and extra arguments) and connects
// to it over stdio.
func stdioClient(t *testing.T, env []string, extra ...string) *client.Client {
	t.Helper()
	stderr := &lockedBuffer{}
	c, err := client.NewStdioMCPClientWithOptions(fabricBin, nil, append([]string{"mcp"}, extra...),
		transport.WithCommandFunc(func(_ context.Context, command string, _ []string, args []string) (*exec.Cmd, error) {
			cmd := exec.Command(command, args...)
			cmd.Env = env
			cmd.Stderr = stderr
			return cmd, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("fabric mcp did not stop: %v", err)
		}
		if t.Failed() {
			t.Logf("fabric mcp stderr:\n%s", stderr.String())
		}
	})
	// NewStdioMCPClient starts the transport; Start wires the client's
	// notification handlers to it.
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	initialize(t, c)
	return c
}

// newStdio starts `fabric mcp` twice on one local hub (which the first
// starts): one with the test's call budget, one with the short budget.
func newStdio(t *testing.T) *fixture {
	t.Helper()
	env := stdioEnv(t)
	f := &fixture{local: stdioNode, nodes: []string{stdioNode}, missingCap: "fabric-test-cap"}
	f.c = stdioClient(t, append(env, "FABRIC_SYNC_BUDGET="+callBudget.String()))
	f.progress = newProgressLog(f.c)
	f.short = stdioClient(t, append(env, "FABRIC_SYNC_BUDGET="+shortBudget.String()))
	return f
}

func TestStdio(t *testing.T) {
	f := newStdio(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, f) })
	}
}

// TestStdioBadEnvironment: an invalid knob stops `fabric mcp` at start,
// naming the variable.
func TestStdioBadEnvironment(t *testing.T) {
	for _, kv := range []string{"FABRIC_SYNC_BUDGET=soon", "FABRIC_MCP_OUTPUT_BYTES=12"} {
		cmd := exec.Command(fabricBin, "mcp")
		cmd.Env = append(stdioEnv(t), kv)
		var stdout, stderr bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(""), &stdout, &stderr
		err := cmd.Run()
		name, _, _ := strings.Cut(kv, "=")
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), name) || stdout.Len() != 0 {
			t.Errorf("%s: %v, stdout %q, stderr %q", kv, err, stdout.String(), stderr.String())
		}
	}
}

// TestHTTP: `fabric mcp --http` serves the same tools over streamable HTTP,
// and `fabric mcp --server URL` uses the hub it names.
func TestHTTP(t *testing.T) {
	cmd := exec.Command(fabricBin, "mcp", "--http", "127.0.0.1:0")
	cmd.Env = append(stdioEnv(t), "FABRIC_SYNC_BUDGET=20")
	state := envValue(cmd.Env, "FABRIC_STATE_DIR")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := <-exited; err != nil {
			t.Errorf("fabric mcp --http exited: %v", err)
		}
	})
	urlRe := regexp.MustCompile(`MCP over HTTP at (http://\S+/mcp)`)
	var url string
	deadline := time.After(patience)
	for url == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("fabric mcp --http exited before serving")
			}
			if m := urlRe.FindStringSubmatch(l); m != nil {
				url = m[1]
			}
		case <-deadline:
			t.Fatal("fabric mcp --http did not say where it serves")
		}
	}
	c, err := client.NewStreamableHttpClient(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	initialize(t, c)
	v := ok[RunView](t, call(t, c, ToolClusterBash, map[string]any{"command": "echo over http"}))
	if v.Stdout.Text != "over http\n" || v.Node != stdioNode {
		t.Fatalf("over HTTP: %+v", v)
	}
	if cs := ok[ClusterView](t, call(t, c, ToolClusterStatus, nil)); len(cs.Nodes) != 1 {
		t.Fatalf("cluster_status over HTTP: %+v", cs)
	}

	// --server: a session elsewhere (its own state directory, no hub of
	// its own) uses the hub it is pointed at, as the CLI does.
	b, err := os.ReadFile(filepath.Join(state, "hub.json"))
	if err != nil {
		t.Fatal(err)
	}
	var adv struct{ URL string }
	if err := json.Unmarshal(b, &adv); err != nil {
		t.Fatal(err)
	}
	remote := stdioClient(t, stdioEnv(t), "--server", adv.URL)
	cs := ok[ClusterView](t, call(t, remote, ToolClusterStatus, nil))
	if cs.Server != adv.URL || len(cs.Nodes) != 1 || cs.Nodes[0].ID != stdioNode || cs.LocalNode != stdioNode {
		t.Fatalf("cluster_status with --server %s: %+v", adv.URL, cs)
	}
	if v := ok[RunView](t, call(t, remote, ToolClusterBash, map[string]any{"command": "echo via server"})); v.Node != stdioNode {
		t.Fatalf("with --server: %+v", v)
	}
}

func envValue(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}
