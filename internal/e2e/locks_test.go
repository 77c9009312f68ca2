//go:build unix

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/locks"
	"github.com/fabric-run/fabric/internal/wire"
)

// lockHeartbeat is the heartbeat of the nodes in the lock tests: a lock's
// lease is two and a half of them, in whole seconds.
const lockHeartbeat = time.Second

// sendJSON publishes a JSON task, as `nats req` would, to a node; its one
// reply (the result) comes on the returned subscription.
func sendJSON(t *testing.T, nc *nats.Conn, node string, task map[string]any) *nats.Subscription {
	t.Helper()
	b, err := json.Marshal(task)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := nc.SubscribeSync(nc.NewInbox())
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.PublishRequest("fabric.task."+runtime.GOOS+"."+runtime.GOARCH+".any."+node, sub.Subject, b); err != nil {
		t.Fatal(err)
	}
	return sub
}

// readNanos reads a `date +%s%N` a command wrote.
func readNanos(t *testing.T, path string) time.Time {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatalf("%s: %q", path, b)
	}
	return time.Unix(0, n)
}

// TestKilledHolderNodeReleasesItsLock: a node holding a lock for a running
// task is SIGKILLed; the task waiting for that lock on another node starts
// within three heartbeat intervals of the kill (real hub, real nodes).
func TestKilledHolderNodeReleasesItsLock(t *testing.T) {
	_, url := startHub(t)
	hb := lockHeartbeat.String()
	holder := startNode(t, url, "--name", "holder", "--heartbeat", hb)
	startNode(t, url, "--name", "waiter", "--heartbeat", hb)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	dir := t.TempDir()
	sendJSON(t, nc, "holder", map[string]any{
		"command": fmt.Sprintf("echo $$ > %s/pid; sleep 600", dir), "locks": []string{"build"}})
	var pid string
	waitFile := func(name string) string {
		deadline := time.Now().Add(30 * time.Second)
		for {
			if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil && strings.HasSuffix(string(b), "\n") {
				return strings.TrimSpace(string(b))
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s written", name)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	pid = waitFile("pid")
	killGroupLater(t, pid)
	result := sendJSON(t, nc, "waiter", map[string]any{
		"command": fmt.Sprintf("date +%%s%%N > %s/started", dir), "locks": []string{"build"}})
	st, err := locks.Open(context.Background(), nc, locks.Config{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		q, err := st.Get(context.Background(), "build")
		if err == nil && len(q.Waiters()) == 1 && q.Waiters()[0].Node == "waiter" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the waiter never queued: %+v, %v", q, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	holder.signal(syscall.SIGKILL)
	killed := time.Now()
	m, err := result.NextMsg(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var res wire.Result
	if err := json.Unmarshal(m.Data, &res); err != nil || res.Error != wire.ErrNone {
		t.Fatalf("waiter's result: %s, %v", m.Data, err)
	}
	took := readNanos(t, filepath.Join(dir, "started")).Sub(killed)
	if took > 3*lockHeartbeat {
		t.Fatalf("the waiting task started %s after the holder's node was killed; want within three heartbeats (%s)", took, 3*lockHeartbeat)
	}
	t.Logf("the waiting task started %s after SIGKILL of the holder's node (heartbeat %s)", took.Round(time.Millisecond), lockHeartbeat)
}
