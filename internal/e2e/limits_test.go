//go:build unix

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/fabrictest"
)

// submitted runs fabric submit with args and returns the task id.
func submitted(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, errOut, code := fabric(t, env, append([]string{"submit"}, args...)...)
	id := strings.TrimSpace(out)
	if code != 0 || id == "" {
		t.Fatalf("fabric submit %v: code %d: %s %s", args, code, out, errOut)
	}
	return id
}

// TestLockedTasksNeverOverlapBeyondN: six tasks with --lock build:2, from
// separate front-end processes, on three real nodes, never run more than two
// at once (by the times the commands wrote); while they wait, fabric
// status, fabric tasks and fabric locks, from yet other processes, say
// what for.
func TestLockedTasksNeverOverlapBeyondN(t *testing.T) {
	_, url := startHub(t)
	env := []string{"FABRIC_SERVER=" + url}
	for _, n := range []string{"n1", "n2", "n3"} {
		startNode(t, url, "--name", n, "--heartbeat", "1s", "--slots", "4")
	}
	dir := tempDir(t, "stamps")
	gate := filepath.Join(t.TempDir(), "gate")
	ids := make([]string, 6)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			ids[i] = submitted(t, env, "--lock", "build:2", "--",
				fabrictest.Stamped(dir, fmt.Sprint(i), fmt.Sprintf("while [ ! -e %s ]; do sleep 0.05; done; sleep 0.3", gate)))
		})
	}
	wg.Wait()
	// Two hold the lock and wait at the gate; four wait for the lock (each
	// node enters the queue just after it accepted its task).
	fabrictest.Eventually(t, 30*time.Second, "fabric tasks showing four tasks in line for build:2", func() bool {
		out, _, _ := fabric(t, env, "tasks")
		return strings.Count(out, "queued: waiting for lock build (") == 4
	})
	waiting := 0
	for _, id := range ids {
		out, _, _ := fabric(t, env, "status", id)
		if strings.Contains(out, "state    queued") {
			waiting++
			if !strings.Contains(out, "waiting  waiting for lock build (") || !strings.Contains(out, " ahead)") {
				t.Fatalf("fabric status of a waiting task:\n%s", out)
			}
		} else if !strings.Contains(out, "state    running") {
			t.Fatalf("fabric status of a task holding the lock:\n%s", out)
		}
	}
	if waiting != 4 {
		t.Fatalf("%d tasks queued for build:2, want 4", waiting)
	}
	out, _, _ := fabric(t, env, "locks")
	if strings.Count(out, "holding") != 2 || strings.Count(out, "waiting (") != 4 {
		t.Fatalf("fabric locks:\n%s", out)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if st, code := status(t, env, id, true); code != 0 || st.State != "done" {
			t.Fatalf("task %s: %+v (exit %d)", id, st, code)
		}
	}
	ss := fabrictest.Spans(t, dir)
	if len(ss) != 6 {
		t.Fatalf("%d tasks wrote their times, want 6", len(ss))
	}
	if most := fabrictest.MostAtOnce(ss); most > 2 {
		t.Fatalf("%d tasks held build:2 at once: %+v", most, ss)
	}
}

// TestWaitingTaskUsesNoSlot: on a node with one slot, a task waiting for
// its lock leaves the slot free: another task runs there meanwhile.
func TestWaitingTaskUsesNoSlot(t *testing.T) {
	_, url := startHub(t)
	env := []string{"FABRIC_SERVER=" + url}
	startNode(t, url, "--name", "n1", "--slots", "1", "--heartbeat", "1s")
	startNode(t, url, "--name", "n2", "--heartbeat", "1s")
	gate := filepath.Join(t.TempDir(), "gate")
	holder := submitted(t, env, "--node", "n2", "--lock", "x", "--", fmt.Sprintf("while [ ! -e %s ]; do sleep 0.05; done", gate))
	waiter := submitted(t, env, "--node", "n1", "--lock", "x", "--", "echo waited")
	st, _ := status(t, env, waiter, false)
	if st.State != "queued" || st.Record.Node != "n1" {
		t.Fatalf("the task waiting for x: %+v", st)
	}
	out, errOut, code := fabric(t, env, "run", "--node", "n1", "--no-wait", "--", "echo free slot")
	if code != 0 || out != "free slot\n" {
		t.Fatalf("a task on n1's one slot while another waits for its lock there: code %d, %q %s", code, out, errOut)
	}
	if st, _ := status(t, env, waiter, false); st.State != "queued" {
		t.Fatalf("the waiting task ran before the lock was free: %+v", st)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{holder, waiter} {
		if st, code := status(t, env, id, true); code != 0 {
			t.Fatalf("task %s: %+v", id, st)
		}
	}
}

// TestNodeCapabilityLimit: a node with --limit docker=1 runs one task
// needing docker at a time, whoever sends them; others run beside it.
func TestNodeCapabilityLimit(t *testing.T) {
	_, url := startHub(t)
	env := []string{"FABRIC_SERVER=" + url}
	startNode(t, url, "--name", "n1", "--slots", "4", "--caps", "docker", "--limit", "docker=1")
	dir := tempDir(t, "stamps")
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			out, errOut, code := fabric(t, env, "run", "--cap", "docker", "--", fabrictest.Stamped(dir, fmt.Sprint(i), "sleep 0.3"))
			if code != 0 {
				t.Errorf("docker task %d: code %d %s %s", i, code, out, errOut)
			}
		})
	}
	out, _, code := fabric(t, env, "run", "--", "echo not docker")
	wg.Wait()
	if code != 0 || out != "not docker\n" {
		t.Fatalf("a task not needing docker: code %d %q", code, out)
	}
	ss := fabrictest.Spans(t, dir)
	if len(ss) != 3 || fabrictest.MostAtOnce(ss) != 1 {
		t.Fatalf("docker tasks %+v: %d at once, want 3 tasks, one at a time", ss, fabrictest.MostAtOnce(ss))
	}
}

// TestGPUDevicesFromFakeNvidiaSMI: a node whose nvidia-smi lists two GPUs
// gives two tasks distinct devices at once; the third waits for a free one.
func TestGPUDevicesFromFakeNvidiaSMI(t *testing.T) {
	_, url := startHub(t)
	env := []string{"FABRIC_SERVER=" + url}
	bindir := t.TempDir()
	smi := "#!/bin/sh\n[ \"$1\" = -L ] || exit 2\necho 'GPU 0: Fake GPU (UUID: GPU-0)'\necho 'GPU 1: Fake GPU (UUID: GPU-1)'\n"
	if err := os.WriteFile(filepath.Join(bindir, "nvidia-smi"), []byte(smi), 0o755); err != nil {
		t.Fatal(err)
	}
	p := start(t, []string{"PATH=" + bindir + ":" + os.Getenv("PATH")}, bin.node, "--server", url, "--name", "gpu", "--slots", "8")
	p.waitOutput(t, `node running`)
	out, _, _ := fabric(t, env, "nodes")
	if !strings.Contains(out, "gpu: 2 GPUs, 2 free") {
		t.Fatalf("fabric nodes does not show the GPUs:\n%s", out)
	}
	dir := tempDir(t, "stamps")
	devs := tempDir(t, "devices")
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			body := fmt.Sprintf(`echo "$CUDA_VISIBLE_DEVICES $NVIDIA_VISIBLE_DEVICES" > %s/%d; sleep 0.5`, devs, i)
			if out, errOut, code := fabric(t, env, "run", "--gpus", "1", "--", fabrictest.Stamped(dir, fmt.Sprint(i), body)); code != 0 {
				t.Errorf("GPU task %d: code %d %s %s", i, code, out, errOut)
			}
		})
	}
	wg.Wait()
	ss := fabrictest.Spans(t, dir)
	if len(ss) != 3 || fabrictest.MostAtOnce(ss) > 2 {
		t.Fatalf("GPU tasks %+v: %d at once on two GPUs", ss, fabrictest.MostAtOnce(ss))
	}
	device := map[string]string{}
	for _, s := range ss {
		b, _ := os.ReadFile(filepath.Join(devs, s.Name))
		f := strings.Fields(string(b))
		if len(f) != 2 || f[0] != f[1] || (f[0] != "0" && f[0] != "1") {
			t.Fatalf("task %s saw devices %q", s.Name, b)
		}
		device[s.Name] = f[0]
	}
	for _, a := range ss {
		for _, b := range ss {
			if a.Name < b.Name && device[a.Name] == device[b.Name] && a.Start < b.End && b.Start < a.End {
				t.Fatalf("tasks %s and %s ran at once on GPU %s", a.Name, b.Name, device[a.Name])
			}
		}
	}
}
