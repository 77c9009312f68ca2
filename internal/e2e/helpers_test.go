//go:build unix

package e2e

import (
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

	"github.com/fabric-run/fabric/internal/fabrictest"
)

// bin holds the binaries built once for all tests.
var bin struct {
	dir          string
	fabric, node string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fabric-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin.dir = dir
	bin.fabric = filepath.Join(dir, "fabric")
	bin.node = filepath.Join(dir, "fabric-node")
	for out, pkg := range map[string]string{bin.fabric: "../../cmd/fabric", bin.node: "../../cmd/node"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", pkg, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := fabrictest.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running binary whose output the test can wait on.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer // stdout and stderr, interleaved
	stdout bytes.Buffer
	grew   chan struct{}
	done   chan struct{}
	err    error
}

// start runs a binary with env added to a clean environment (no FABRIC_*
// from the developer's shell).
func start(t *testing.T, env []string, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(cleanEnv(t), env...)
	p := &proc{cmd: cmd, grew: make(chan struct{}, 1), done: make(chan struct{})}
	cmd.Stdout = &tee{p: p, alsoStdout: true}
	cmd.Stderr = &tee{p: p}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if p.running() {
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(name), p.output())
		}
	})
	return p
}

// cleanEnv is the environment without the developer's FABRIC_*, with a
// state directory of the test's own (so no local hub is shared by tests).
func cleanEnv(t *testing.T) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FABRIC_") {
			env = append(env, kv)
		}
	}
	return append(env, "FABRIC_STATE_DIR="+stateDir(t))
}

// stateDir is the test's own FABRIC_STATE_DIR.
func stateDir(t *testing.T) string {
	return filepath.Join(bin.dir, "state", strings.ReplaceAll(t.Name(), "/", "_"))
}

type tee struct {
	p          *proc
	alsoStdout bool
}

func (w *tee) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	w.p.out.Write(b)
	if w.alsoStdout {
		w.p.stdout.Write(b)
	}
	w.p.mu.Unlock()
	select {
	case w.p.grew <- struct{}{}:
	default:
	}
	return len(b), nil
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *proc) stdoutText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// waitOutput waits until the output matches re and returns the first
// submatch (or the match).
func (p *proc) waitOutput(t *testing.T, re string) string {
	t.Helper()
	m, ok := p.waitOutputOrExit(t, re)
	if !ok {
		t.Fatalf("process exited (%v) before printing %q", p.err, re)
	}
	return m
}

// waitOutputOrExit waits until the output matches re, returning the first
// submatch and true, or until the process exits, returning false.
func (p *proc) waitOutputOrExit(t *testing.T, re string) (string, bool) {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(30 * time.Second)
	for {
		if m := rx.FindStringSubmatch(p.output()); m != nil {
			return m[len(m)-1], true
		}
		select {
		case <-p.grew:
		case <-p.done:
			if m := rx.FindStringSubmatch(p.output()); m != nil {
				return m[len(m)-1], true
			}
			return "", false
		case <-deadline:
			t.Fatalf("no %q in output", re)
		}
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatal("process did not exit")
	}
	return p.cmd.ProcessState.ExitCode()
}

func (p *proc) signal(sig syscall.Signal) { p.cmd.Process.Signal(sig) }

// fabric runs the fabric binary to completion.
func fabric(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return run(t, env, append([]string{bin.fabric}, args...)...)
}

// run runs argv (a program and its arguments) to completion with env added
// to a clean environment.
func run(t *testing.T, env []string, argv ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(cleanEnv(t), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// startHub runs `fabric serve` on a random loopback port and returns its URL.
func startHub(t *testing.T) (*proc, string) {
	t.Helper()
	p := start(t, nil, bin.fabric, "serve", "--listen", "127.0.0.1:0")
	url := p.waitOutput(t, `hub listening on (nats://127\.0\.0\.1:\d+)`)
	return p, url
}

// startNode runs fabric-node and waits for its first log line saying it runs.
func startNode(t *testing.T, url string, args ...string) *proc {
	t.Helper()
	p := start(t, nil, bin.node, append([]string{"--server", url, "--no-detect", "--heartbeat", "200ms"}, args...)...)
	p.waitOutput(t, `node running`)
	return p
}

// stopLocalHub kills the local hub a test's commands started in the
// background (its pid is in the state directory's hub.json) and waits for
// it to go.
func stopLocalHub(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stateDir(t), "hub.json"))
	if err != nil {
		return
	}
	var adv struct{ PID int }
	if json.Unmarshal(b, &adv) != nil || adv.PID <= 0 {
		return
	}
	syscall.Kill(adv.PID, syscall.SIGTERM)
	deadline := time.Now().Add(20 * time.Second)
	for syscall.Kill(adv.PID, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(adv.PID, syscall.SIGKILL)
			t.Fatalf("local hub %d did not stop", adv.PID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
