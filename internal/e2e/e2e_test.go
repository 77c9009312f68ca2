//go:build unix

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/runner"
	"github.com/fabric-run/fabric/internal/wire"
)

// TestEmbeddedRun is the README's main job on a fresh machine: no server,
// fabric embeds one and a local node.
func TestEmbeddedRun(t *testing.T) {
	out, errOut, code := fabric(t, nil, "run", "--", "echo hello; echo to-stderr >&2; exit 3")
	if code != 3 || out != "hello\n" || !strings.Contains(errOut, "to-stderr") {
		t.Fatalf("code %d, stdout %q, stderr %q", code, out, errOut)
	}
	if !strings.Contains(errOut, "exit 3 in") {
		t.Errorf("no summary line in stderr %q", errOut)
	}
}

// TestRunJoinsWords: the words after -- make one shell line, as ssh joins
// them, so the remote shell sees the quoting the user gave it.
func TestRunJoinsWords(t *testing.T) {
	out, _, code := fabric(t, nil, "run", "--", "sh", "-c", "'echo in-sh; exit 3'")
	if code != 3 || out != "in-sh\n" {
		t.Errorf("sh -c \"'echo in-sh; exit 3'\": code %d, stdout %q; want 3, in-sh", code, out)
	}
	out, _, code = fabric(t, nil, "run", "--", "echo", "a", "'b  c'", "|", "tr", "a-z", "A-Z")
	if code != 0 || out != "A B  C\n" {
		t.Errorf("words with a pipe: code %d, stdout %q; want 0, \"A B  C\\n\"", code, out)
	}
}

// TestRunSaysStdinIsNotForwarded: input piped into fabric run would be lost
// silently (the node's command reads /dev/null); fabric says so.
func TestRunSaysStdinIsNotForwarded(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(in, []byte("lost input\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, nil, "sh", "-c", `exec "$0" run -- cat < "$1"`, bin.fabric, in)
	if code != 0 || out != "" || !strings.Contains(errOut, "standard input is not forwarded") {
		t.Errorf("cat < file: code %d, stdout %q, stderr %q; want 0, nothing, a notice", code, out, errOut)
	}
	_, errOut, _ = fabric(t, nil, "run", "--", "cat") // stdin: /dev/null
	if strings.Contains(errOut, "standard input") {
		t.Errorf("a notice with nothing on stdin: %q", errOut)
	}
}

func TestEmbeddedExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no match", []string{"run", "--cap", "gpu", "--", "nvidia-smi"}, 125, "no matching node (requires caps=gpu)"},
		{"unknown node", []string{"run", "--node", "nowhere", "--", "true"}, 125, `unknown node "nowhere"`},
		{"timeout", []string{"run", "--timeout", "300ms", "--", "sleep 30"}, 124, "timeout"},
		{"bad env", []string{"run", "--", "true"}, 1, `FABRIC_CMD_TIMEOUT="soon"`},
		{"no command", []string{"run", "--cap", "go"}, 1, "no command given: put it after --, e.g. fabric run -- uname -a"},
		{"no task id", []string{"status"}, 1, "no task id given: fabric status ID"},
		{"two task ids", []string{"logs", "a", "b"}, 1, "one task id at a time, got 2"},
		{"negative timeout", []string{"run", "--timeout", "-1s", "--", "true"}, 1, "--timeout -1s: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var env []string
			if tt.name == "bad env" {
				env = []string{"FABRIC_CMD_TIMEOUT=soon"}
			}
			_, errOut, code := fabric(t, env, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.err) {
				t.Fatalf("code %d (want %d), stderr %q (want %q)", code, tt.code, errOut, tt.err)
			}
		})
	}
}

func TestRunJSON(t *testing.T) {
	out, _, code := fabric(t, nil, "run", "--json", "--", "echo hi")
	var r struct {
		ID     string
		Node   string
		Reason string
		Result wire.Result
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
		t.Fatalf("code %d, %v: %s", code, err, out)
	}
	if r.Result.Stdout != "hi\n" || r.Node == "" || r.ID == "" || r.Reason == "" {
		t.Fatalf("report = %+v", r)
	}
}

func TestServeRefusesTheNetworkWithoutAuth(t *testing.T) {
	_, errOut, code := fabric(t, nil, "serve", "--listen", "0.0.0.0:0")
	if code != 1 || !strings.Contains(errOut, "refusing to listen on 0.0.0.0:0 without authentication") {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
}

// TestSeparateProcesses: a hub, two nodes and front ends, all real
// processes; routing by OS; nodes listed; SIGTERM drains a node while a task
// runs on it.
func TestSeparateProcesses(t *testing.T) {
	_, url := startHub(t)
	n1 := startNode(t, url, "--name", "lin", "--os", "linux", "--caps", "docker")
	startNode(t, url, "--name", "mac", "--os", "darwin", "--arch", "arm64")
	srv := []string{"FABRIC_SERVER=" + url}

	out, errOut, code := fabric(t, srv, "run", "--os", "macos", "--", "echo on-mac")
	if code != 0 || out != "on-mac\n" || !strings.Contains(errOut, "fabric: mac: exit 0") {
		t.Fatalf("code %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = fabric(t, srv, "run", "--", "docker build . >/dev/null 2>&1; echo built")
	if code != 0 || !strings.Contains(errOut, "fabric: lin:") {
		t.Fatalf("docker build went elsewhere: code %d, stdout %q, stderr %q", code, out, errOut)
	}

	out, _, code = fabric(t, srv, "nodes", "--json")
	var nodes struct {
		Nodes []struct{ ID, OS, State string }
	}
	if err := json.Unmarshal([]byte(out), &nodes); err != nil || code != 0 || len(nodes.Nodes) != 2 {
		t.Fatalf("nodes: code %d, %v, %s", code, err, out)
	}

	// Drain: a task runs on lin, lin gets SIGTERM, the task still finishes.
	run := start(t, srv, bin.fabric, "run", "--node", "lin", "--", "echo started; sleep 1; echo finished")
	run.waitOutput(t, "started")
	n1.signal(syscall.SIGTERM)
	if code := run.wait(t); code != 0 || run.stdoutText() != "started\nfinished\n" {
		t.Fatalf("run during drain: code %d, output %q", code, run.output())
	}
	if code := n1.wait(t); code != 0 {
		t.Fatalf("node exit code %d", code)
	}
	if !strings.Contains(n1.output(), "node left") {
		t.Fatalf("node did not leave cleanly: %s", n1.output())
	}
	// The cluster now routes around it.
	_, errOut, code = fabric(t, srv, "run", "--node", "lin", "--", "true")
	if code != 125 {
		t.Fatalf("run on drained node: code %d, %s", code, errOut)
	}
}

// TestInterruptCancelsRemoteTask: Ctrl-C on `fabric run` cancels the task
// on its node, which kills the process group.
func TestInterruptCancelsRemoteTask(t *testing.T) {
	_, url := startHub(t)
	startNode(t, url, "--name", "n")
	run := start(t, []string{"FABRIC_SERVER=" + url}, bin.fabric, "run", "--", "echo $$; sleep 300")
	pidText := run.waitOutput(t, `(?m)^(\d+)$`)
	pid, _ := strconv.Atoi(pidText)
	run.signal(syscall.SIGINT)
	if code := run.wait(t); code != 130 {
		t.Fatalf("exit code %d, want 130: %s", code, run.output())
	}
	fabrictest.Eventually(t, 10*time.Second, fmt.Sprintf("remote shell %d gone", pid), func() bool { return !runner.Alive(pid) })
}

// TestNATSCLIStyleRequest: what `nats req fabric.task.linux.amd64.any 'uname -a'`
// does, against real node processes.
func TestNATSCLIStyleRequest(t *testing.T) {
	_, url := startHub(t)
	startNode(t, url, "--name", "n", "--os", "linux", "--arch", "amd64")
	nc := fabrictest.Connect(t, url)
	msg, err := nc.Request("fabric.task.linux.amd64.any", []byte("uname -s"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var r wire.Result
	if err := json.Unmarshal(msg.Data, &r); err != nil || r.Stdout != "Linux\n" || r.Node != "n" {
		t.Fatalf("reply %s (%v)", msg.Data, err)
	}
}

// TestHugeOutputKeepsNodeMemoryBounded streams 100 MiB through a real node
// process and checks its peak resident memory grew by little more than the
// 1 MiB output cap.
func TestHugeOutputKeepsNodeMemoryBounded(t *testing.T) {
	_, url := startHub(t)
	node := startNode(t, url, "--name", "n")
	srv := append(cleanEnv(t), "FABRIC_SERVER="+url)
	runDiscard := func(command string) {
		cmd := exec.Command(bin.fabric, "run", "--", command)
		var stderr strings.Builder
		cmd.Env, cmd.Stdout, cmd.Stderr = srv, io.Discard, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", command, err, stderr.String())
		}
	}
	runDiscard("head -c 1048576 /dev/zero") // warm up: buffers, first chunks
	before := peakRSS(t, node.cmd.Process.Pid)
	runDiscard("head -c 104857600 /dev/zero")
	after := peakRSS(t, node.cmd.Process.Pid)
	t.Logf("node peak RSS %d KiB before, %d KiB after 100 MiB of output", before>>10, after>>10)
	if grew := after - before; grew > (1<<20)+(8<<20) {
		t.Fatalf("node peak RSS grew by %d KiB streaming 100 MiB with a 1 MiB cap", grew>>10)
	}
}

// peakRSS reads a process's peak resident set (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}
