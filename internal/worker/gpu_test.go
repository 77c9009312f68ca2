package worker_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

// TestDetectGPUs: the devices are the "GPU N:" lines of nvidia-smi -L
// (MIG devices under them are not counted); no nvidia-smi, no GPUs.
func TestDetectGPUs(t *testing.T) {
	fakeNvidiaSMI(t, `GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-aaaa)
  MIG 1g.5gb      Device  0: (UUID: MIG-bbbb)
GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-cccc)
No devices were found
GPU x: broken
`)
	got, err := worker.DetectGPUs(context.Background())
	if err != nil || !slices.Equal(got, []string{"0", "1"}) {
		t.Fatalf("DetectGPUs = %v, %v; want [0 1]", got, err)
	}
	t.Setenv("PATH", t.TempDir())
	if got, err := worker.DetectGPUs(context.Background()); got != nil || err != nil {
		t.Fatalf("without nvidia-smi: %v, %v", got, err)
	}
}

// fakeNvidiaSMI puts an nvidia-smi first on PATH whose -L prints lines.
func fakeNvidiaSMI(t *testing.T, lines string) {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\n[ \"$1\" = -L ] || exit 2\ncat <<'EOF'\n" + lines + "EOF\n"
	if err := os.WriteFile(filepath.Join(dir, "nvidia-smi"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// TestGPUsFromNvidiaSMIOneTaskPerDevice: with two GPUs (as a fake
// nvidia-smi reports them), two tasks needing a GPU run at once, each with
// its own device in CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES; a
// third is answered busy like a full node, and runs on the device freed
// once one ends. A task needing no GPU sees none.
func TestGPUsFromNvidiaSMIOneTaskPerDevice(t *testing.T) {
	fakeNvidiaSMI(t, "GPU 0: Fake GPU (UUID: GPU-0)\nGPU 1: Fake GPU (UUID: GPU-1)\n")
	h := fabrictest.StartHub(t, hub.Config{})
	nc := fabrictest.Connect(t, h.ClientURL())
	w, err := worker.New(nc, worker.Config{Name: "n1", OS: "linux", Arch: "amd64", Slots: 8, Load: worker.FixedLoad{CPUs: 4}, HeartbeatInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if !slices.Contains(w.Capabilities(), "gpu") {
		t.Fatalf("capabilities %v lack gpu", w.Capabilities())
	}
	if hb := w.Heartbeat(); hb.GPUs != 2 || hb.GPUsFree != 2 || len(hb.Full) != 0 {
		t.Fatalf("heartbeat gpus %d free %d full %v, want 2, 2, none", hb.GPUs, hb.GPUsFree, hb.Full)
	}
	gate := filepath.Join(t.TempDir(), "go")
	gpuTask := func(id string) *wire.Task {
		return &wire.Task{ID: id, Command: `echo "$CUDA_VISIBLE_DEVICES $NVIDIA_VISIBLE_DEVICES"; while [ ! -e ` + gate + ` ]; do sleep 0.05; done`,
			Requires: wire.Requirements{Capabilities: []string{"gpu"}}}
	}
	var running []*client
	for _, id := range []string{"g1", "g2"} {
		c := newClient(t, h)
		c.send(gpuTask(id))
		if a := c.ack(); a.Status != wire.AckAccepted {
			t.Fatalf("%s: %+v", id, a)
		}
		running = append(running, c)
	}
	third := newClient(t, h)
	third.send(gpuTask("g3"))
	if a := third.ack(); a.Status != wire.AckBusy || !strings.Contains(a.Reason, "0 of its 2 GPUs free") {
		t.Fatalf("third GPU task: %+v, want busy", a)
	}
	if hb := w.Heartbeat(); hb.GPUsFree != 0 || !slices.Contains(hb.Full, "gpu") {
		t.Fatalf("heartbeat with both taken: free %d full %v", hb.GPUsFree, hb.Full)
	}
	plain := newClient(t, h)
	plain.send(&wire.Task{Command: `echo "[$CUDA_VISIBLE_DEVICES] $NVIDIA_VISIBLE_DEVICES"`})
	if r := plain.result(); r.Stdout != "[] void\n" {
		t.Fatalf("task needing no GPU saw %q, want none", r.Stdout)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var devices []string
	for _, c := range running {
		r := c.result()
		f := strings.Fields(r.Stdout)
		if r.Error != wire.ErrNone || len(f) != 2 || f[0] != f[1] {
			t.Fatalf("GPU task result %+v", r)
		}
		devices = append(devices, f[0])
	}
	slices.Sort(devices)
	if !slices.Equal(devices, []string{"0", "1"}) {
		t.Fatalf("devices handed out: %v, want 0 and 1, one each", devices)
	}
	fabrictest.Eventually(t, 10*time.Second, "condition", func() bool { return w.Heartbeat().GPUsFree == 2 })
	third.send(gpuTask("g3"))
	if r := third.result(); r.Error != wire.ErrNone || strings.TrimSpace(r.Stdout) == "" {
		t.Fatalf("third GPU task once devices were free: %+v", r)
	}
}

// TestGPUCountsAsked: --gpus K hands K devices; more than the node has is
// the wrong node; more than are free is busy.
func TestGPUCountsAsked(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{GPUs: 3})
	c := newClient(t, h)
	c.send(&wire.Task{Command: `echo "$CUDA_VISIBLE_DEVICES"`, TaskV2: wire.TaskV2{GPUs: 2}})
	if r := c.result(); r.Stdout != "0,1\n" {
		t.Fatalf("two GPUs: %q, want 0,1", r.Stdout)
	}
	c = newClient(t, h)
	c.send(&wire.Task{Command: "true", TaskV2: wire.TaskV2{GPUs: 4}})
	if a := c.ack(); a.Status != wire.AckRejected || a.Error != wire.ErrMismatch || !strings.Contains(a.Reason, "asks for 4 GPUs, node n1 has 3") {
		t.Fatalf("four GPUs of three: %+v", a)
	}
}

// TestCapabilityLimit: with limits {docker: 1}, a second task needing
// docker (asked for, or found in its command by Needs) is answered busy
// while the first runs; tasks that do not need docker still run.
func TestCapabilityLimit(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	gate := filepath.Join(t.TempDir(), "go")
	w := fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{Slots: 4, Capabilities: []string{"docker"}, Limits: map[string]int{"docker": 1},
		Needs: func(task *wire.Task) []string {
			if strings.HasPrefix(task.Command, "docker ") {
				return []string{"docker"}
			}
			return nil
		}})
	first := newClient(t, h)
	first.send(&wire.Task{Command: "while [ ! -e " + gate + " ]; do sleep 0.05; done", Requires: wire.Requirements{Capabilities: []string{"docker"}}})
	if a := first.ack(); a.Status != wire.AckAccepted {
		t.Fatalf("first: %+v", a)
	}
	for _, task := range []*wire.Task{
		{Command: "true", Requires: wire.Requirements{Capabilities: []string{"docker"}}},
		{Command: "docker build ."},
	} {
		c := newClient(t, h)
		c.send(task)
		if a := c.ack(); a.Status != wire.AckBusy || !strings.Contains(a.Reason, "1 of 1 docker tasks running (its limit)") {
			t.Fatalf("%q while docker is at its limit: %+v", task.Command, a)
		}
	}
	if hb := w.Heartbeat(); !slices.Equal(hb.Full, []string{"docker"}) {
		t.Fatalf("heartbeat full = %v, want docker", hb.Full)
	}
	other := newClient(t, h)
	other.send(&wire.Task{Command: "echo free"})
	if r := other.result(); r.Stdout != "free\n" {
		t.Fatalf("a task not needing docker: %+v", r)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	first.result()
	again := newClient(t, h)
	again.send(&wire.Task{Command: "echo again", Requires: wire.Requirements{Capabilities: []string{"docker"}}})
	if r := again.result(); r.Stdout != "again\n" {
		t.Fatalf("docker task after the first ended: %+v", r)
	}
}

func TestBadLimitsRefused(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	for _, limits := range []map[string]int{{"docker": 0}, {"Not A Token": 1}} {
		if _, err := worker.New(fabrictest.Connect(t, h.ClientURL()), worker.Config{Name: "n1", NoDetect: true, Limits: limits}); err == nil {
			t.Errorf("limits %v accepted", limits)
		}
	}
}
