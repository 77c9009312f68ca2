package guard_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/guard"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

// TestNodeGuardJudgesTheTask runs a real node (an in-process worker on an
// embedded hub) whose guard is the node's own (NodeCheck, as the CLI wires
// it): a task with no working directory runs in the home, so rm -rf * there
// is refused by the node with a reason, and the near miss runs. The home is
// a scratch directory, and the refused command never runs anyway.
func TestNodeGuardJudgesTheTask(t *testing.T) {
	home := t.TempDir()
	for _, dir := range []string{"build", "keep"} {
		if err := os.Mkdir(filepath.Join(home, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	g, err := guard.New(guard.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := hub.Start(hub.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	nc, err := nats.Connect(h.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	w, err := worker.New(nc, worker.Config{
		Name: "n1", OS: "linux", Arch: "amd64", NoDetect: true, Load: worker.FixedLoad{CPUs: 2},
		HeartbeatInterval: -1, Dir: home,
		Check: g.NodeCheck(guard.Node{Home: home, Env: []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })

	run := func(task wire.Task) wire.Result {
		t.Helper()
		body, err := json.Marshal(task)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := nc.Request("fabric.task.linux.amd64.any.n1", body, 10*time.Second)
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		var res wire.Result
		if err := json.Unmarshal(msg.Data, &res); err != nil {
			t.Fatalf("result %q: %v", msg.Data, err)
		}
		return res
	}

	res := run(wire.Task{ID: wire.NewTaskID(), Command: "rm -rf *"})
	if res.Error != wire.ErrRejected || !strings.Contains(res.Message, `refused by rule "rm-root": recursive forced delete of "~/*"`) {
		t.Fatalf("rm -rf * with no cwd: %+v, want a refusal by the node's guard", res)
	}
	res = run(wire.Task{ID: wire.NewTaskID(), Command: `rm -rf "$OUT"/*`})
	if res.Error != wire.ErrRejected || !strings.Contains(res.Message, "${OUT:?}") {
		t.Fatalf(`rm -rf "$OUT"/* with OUT unset: %+v, want a refusal saying how to write it`, res)
	}
	res = run(wire.Task{ID: wire.NewTaskID(), Command: "ls", Env: map[string]string{"BASH_ENV": filepath.Join(home, "x.sh")}})
	if res.Error != wire.ErrRejected || !strings.Contains(res.Message, "BASH_ENV") {
		t.Fatalf("BASH_ENV in the task's environment: %+v, want a refusal", res)
	}
	for _, dir := range []string{"build", "keep"} {
		if _, err := os.Stat(filepath.Join(home, dir)); err != nil {
			t.Fatalf("after the refusals, %s: %v", dir, err)
		}
	}

	res = run(wire.Task{ID: wire.NewTaskID(), Command: "rm -rf ./build && echo done"})
	if res.Error != wire.ErrNone || res.ExitCode != 0 || res.Stdout != "done\n" {
		t.Fatalf("rm -rf ./build: %+v, want it run", res)
	}
	if _, err := os.Stat(filepath.Join(home, "build")); !os.IsNotExist(err) {
		t.Errorf("build after rm -rf ./build: %v, want it gone", err)
	}
	if _, err := os.Stat(filepath.Join(home, "keep")); err != nil {
		t.Errorf("keep after rm -rf ./build: %v", err)
	}
}
