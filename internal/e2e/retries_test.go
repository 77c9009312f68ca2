//go:build unix

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/bench/procstat"
	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/wire"
)

// TestRetryOnNodeLostRunsOnceMoreElsewhere: with --retries 1 --retry-on
// node_lost, a task whose node is SIGKILLed mid-run runs once more on the
// other node, and its record keeps the lost attempt.
func TestRetryOnNodeLostRunsOnceMoreElsewhere(t *testing.T) {
	_, url := startHub(t)
	env := []string{"FABRIC_SERVER=" + url}
	nodes := map[string]*proc{}
	for _, n := range []string{"n1", "n2"} {
		nodes[n] = startNode(t, url, "--name", n, "--heartbeat", "300ms")
	}
	f := filepath.Join(t.TempDir(), "runs")
	run := start(t, env, bin.fabric, "run", "--retries", "1", "--retry-on", "node_lost", "--",
		fmt.Sprintf(`echo $$ >> %[1]s; [ "$(wc -l < %[1]s)" -ge 2 ] || sleep 600; echo done`, f))
	node := run.waitOutput(t, `accepted by (\w+)`)
	id := run.waitOutput(t, `task (\w+) accepted by`)
	fabrictest.Eventually(t, 30*time.Second, "the first run started", func() bool { return len(fileLines(t, f)) == 1 })
	killGroupLater(t, fileLines(t, f)[0])
	nodes[node].signal(syscall.SIGKILL)
	if code := run.wait(t); code != 0 || run.stdoutText() != "done\n" {
		t.Fatalf("fabric run after its node was killed: exit %d, stdout %q\n%s", code, run.stdoutText(), run.output())
	}
	if n := len(fileLines(t, f)); n != 2 {
		t.Fatalf("ran %d times, want twice (once more after the loss)", n)
	}
	out, _, _ := fabric(t, env, "status", "--json", id)
	var st struct {
		State  string
		Record struct {
			Node     string
			Attempts []struct{ Node, Error string }
		}
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if st.State != "done" || st.Record.Node == node || len(st.Record.Attempts) != 1 ||
		st.Record.Attempts[0].Node != node || st.Record.Attempts[0].Error != "node_lost" {
		t.Fatalf("record after the retry: %s", out)
	}
}

// TestNeverRetriedOnExitCodesOrTimeouts: a command that exits non-zero, or
// times out, runs once whatever --retries says.
func TestNeverRetriedOnExitCodesOrTimeouts(t *testing.T) {
	_, url := startHub(t)
	env := []string{"FABRIC_SERVER=" + url}
	startNode(t, url, "--name", "n1")
	startNode(t, url, "--name", "n2")
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"exit", []string{"--", "echo x >> " + dir + "/exit; exit 3"}, 3},
		{"timeout", []string{"--timeout", "500ms", "--", "echo x >> " + dir + "/timeout; sleep 30"}, 124},
		{"idle", []string{"--idle-timeout", "500ms", "--", "echo x >> " + dir + "/idle; sleep 30"}, 124},
	} {
		args := append([]string{"run", "--retries", "3", "--retry-on", "node_lost,busy,draining"}, tc.args...)
		if _, errOut, code := fabric(t, env, args...); code != tc.code {
			t.Fatalf("%s: exit %d, want %d: %s", tc.name, code, tc.code, errOut)
		}
		if n := len(fileLines(t, filepath.Join(dir, tc.name))); n != 1 {
			t.Fatalf("%s: ran %d times, want once", tc.name, n)
		}
	}
	if _, errOut, code := fabric(t, env, "run", "--retries", "1", "--retry-on", "timeout", "--", "true"); code != 1 || !strings.Contains(errOut, "never on an exit code or a timeout") {
		t.Fatalf("--retry-on timeout: exit %d: %s", code, errOut)
	}
}

// TestIdleTimeout: --idle-timeout kills a command that went quiet, with
// exit 124 and its own error kind.
func TestIdleTimeout(t *testing.T) {
	_, url := startHub(t)
	env := []string{"FABRIC_SERVER=" + url}
	startNode(t, url, "--name", "n1")
	out, errOut, code := fabric(t, env, "run", "--idle-timeout", "500ms", "--timeout", "1m", "--", "echo hi; sleep 30")
	if code != 124 || out != "hi\n" || !strings.Contains(errOut, "idle_timeout: killed after printing nothing for 500ms") {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errOut)
	}
}

// TestIdempotencyKeyOneExecution: the same --key while the task runs,
// after it ended, and from two processes at once, runs the command once.
func TestIdempotencyKeyOneExecution(t *testing.T) {
	_, url := startHub(t)
	env := []string{"FABRIC_SERVER=" + url}
	startNode(t, url, "--name", "n1", "--slots", "4")
	dir := t.TempDir()
	runs, gate := filepath.Join(dir, "runs"), filepath.Join(dir, "gate")
	command := fmt.Sprintf("echo run >> %s; while [ ! -e %s ]; do sleep 0.05; done; echo result", runs, gate)
	// Keys of this run alone: the hub's store outlives a test (-count).
	key, atOnce := "deploy-42-"+wire.NewTaskID(), "at-once-"+wire.NewTaskID()
	id := submitted(t, env, "--key", key, "--", command)
	out, errOut, code := fabric(t, env, "submit", "--key", key, "--", command)
	if code != 0 || strings.TrimSpace(out) != id || !strings.Contains(errOut, "not run again") {
		t.Fatalf("the same key while it runs: exit %d, %q, %s; want task %s", code, out, errOut, id)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, code := status(t, env, id, true); code != 0 {
		t.Fatalf("task %s exit %d", id, code)
	}
	out, errOut, code = fabric(t, env, "run", "--key", key, "--", command)
	if code != 0 || out != "result\n" || !strings.Contains(errOut, "not run again") {
		t.Fatalf("the same key after it ended: exit %d, %q, %s", code, out, errOut)
	}
	if n := len(fileLines(t, runs)); n != 1 {
		t.Fatalf("ran %d times, want once", n)
	}
	both := filepath.Join(dir, "both")
	var wg sync.WaitGroup
	outs := make([]string, 2)
	for i := range outs {
		wg.Go(func() {
			o, e, c := fabric(t, env, "run", "--key", atOnce, "--", "echo run >> "+both+"; sleep 0.3; echo same")
			if c != 0 {
				t.Errorf("process %d: exit %d %s", i, c, e)
			}
			outs[i] = o
		})
	}
	wg.Wait()
	if n := len(fileLines(t, both)); n != 1 || outs[0] != "same\n" || outs[1] != "same\n" {
		t.Fatalf("two processes at once: ran %d times, outputs %q", n, outs)
	}
}

// peakOfRun runs fabric with stdin from in and returns its output and peak
// resident memory (VmHWM, read until it exits).
func peakOfRun(t *testing.T, env []string, in io.Reader, args ...string) (string, string, int, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin.fabric, args...)
	cmd.Env = append(cleanEnv(t), env...)
	var o, e bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = in, &o, &e
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peak int64
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if u, err := procstat.Of(cmd.Process.Pid); err == nil {
			peak = max(peak, u.PeakRSS)
		}
		select {
		case <-done:
			return o.String(), e.String(), cmd.ProcessState.ExitCode(), peak
		case <-tick.C:
		}
	}
}

// TestStdin100MiB: 100 MiB through `fabric run -i` reach the command whole
// and in order, then end of file, with the front end and the node each
// growing by at most 32 MiB.
func TestStdin100MiB(t *testing.T) {
	_, url := startHub(t)
	env := []string{"FABRIC_SERVER=" + url}
	node := startNode(t, url, "--name", "n1")
	const size, bound = 100 << 20, 32 << 20
	path := filepath.Join(t.TempDir(), "input")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.New()
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 1<<20)
	for range size / len(buf) {
		for i := 0; i < len(buf); i += 8 {
			v := r.Uint64()
			for k := range 8 {
				buf[i+k] = byte(v >> (8 * k))
			}
		}
		file.Write(buf)
		sum.Write(buf)
	}
	file.Close()
	want := fmt.Sprintf("%x  -\nEOF-SEEN\n", sum.Sum(nil))

	// The front end's own footprint, with a few bytes of input.
	_, _, code, small := peakOfRun(t, env, strings.NewReader("tiny\n"), "run", "-i", "--", "sha256sum; echo EOF-SEEN")
	if code != 0 {
		t.Fatalf("small input: exit %d", code)
	}
	pid := node.cmd.Process.Pid
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		t.Fatalf("reset the node's peak RSS: %v", err)
	}
	before, err := procstat.Of(pid)
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, errOut, code, big := peakOfRun(t, env, in, "run", "-i", "--", "sha256sum; echo EOF-SEEN")
	if code != 0 || out != want {
		t.Fatalf("100 MiB: exit %d, stdout %q, want %q\n%s", code, out, want, errOut)
	}
	after, err := procstat.Of(pid)
	if err != nil {
		t.Fatal(err)
	}
	feGrowth, nodeGrowth := big-small, after.PeakRSS-before.RSS
	t.Logf("100 MiB streamed: front end peak %.1f MiB (%.1f with a few bytes), node grew %.1f MiB (peak %.1f)",
		procstat.MiB(big), procstat.MiB(small), procstat.MiB(nodeGrowth), procstat.MiB(after.PeakRSS))
	if feGrowth > bound || nodeGrowth > bound {
		t.Fatalf("memory grew by %.1f MiB (front end) and %.1f MiB (node); want at most 32 each", procstat.MiB(feGrowth), procstat.MiB(nodeGrowth))
	}
}

// TestSubmitInlineStdin: fabric submit -i sends its input with the task,
// and refuses more than the documented 256 KiB.
func TestSubmitInlineStdin(t *testing.T) {
	_, url := startHub(t)
	env := []string{"FABRIC_SERVER=" + url}
	startNode(t, url, "--name", "n1")
	out, errOut, code, _ := peakOfRun(t, env, strings.NewReader("a\nb\nc\n"), "submit", "-i", "--", "wc -l")
	id := strings.TrimSpace(out)
	if code != 0 || id == "" {
		t.Fatalf("submit -i: exit %d %q %s", code, out, errOut)
	}
	if st, code := status(t, env, id, true); code != 0 || st.Result == nil || strings.TrimSpace(st.Result.Stdout) != "3" {
		t.Fatalf("task %s: %+v", id, st)
	}
	_, errOut, code, _ = peakOfRun(t, env, bytes.NewReader(make([]byte, 256<<10+1)), "submit", "-i", "--", "wc -c")
	if code != 1 || !strings.Contains(errOut, "at most 256 KiB") {
		t.Fatalf("submit -i over the limit: exit %d: %s", code, errOut)
	}
}
