package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

func setup(t *testing.T) (*hub.Hub, func() *nats.Conn) {
	t.Helper()
	h, err := hub.Start(hub.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h, func() *nats.Conn {
		nc, err := nats.Connect(h.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
}

func startNode(t *testing.T, nc *nats.Conn, cfg worker.Config) *worker.Worker {
	t.Helper()
	cfg.OS, cfg.Arch, cfg.NoDetect = "linux", "amd64", true
	cfg.Load = worker.FixedLoad{CPUs: 2}
	cfg.HeartbeatInterval = -1
	w, err := worker.New(nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func target(node string) Target {
	return Target{Node: node, OS: "linux", Arch: "amd64", Capability: "any"}
}

func TestBusyNodeFallsThrough(t *testing.T) {
	_, conn := setup(t)
	startNode(t, conn(), worker.Config{Name: "a", Slots: 1})
	startNode(t, conn(), worker.Config{Name: "b", Slots: 1})
	d, err := New(conn(), nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// Fill a with a task from another front end.
	accepted := make(chan string, 1)
	go d.Dispatch(context.Background(), &wire.Task{ID: "long", Command: "sleep 30"}, []Target{target("a")}, false,
		Hooks{OnAccepted: func(n, _ string) { accepted <- n }})
	<-accepted
	out, err := d.Dispatch(context.Background(), &wire.Task{ID: "t", Command: "echo hi"}, []Target{target("a"), target("b")}, false, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Node != "b" || out.Result.Stdout != "hi\n" || len(out.Declined) != 1 || !strings.Contains(out.Declined[0], "a: busy") {
		t.Fatalf("outcome = %+v", out)
	}
	// With nowhere else to go it is unavailable, and says why.
	_, err = d.Dispatch(context.Background(), &wire.Task{ID: "t2", Command: "true"}, []Target{target("a")}, false, Hooks{})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "1 of 1 slots") {
		t.Fatalf("err = %v", err)
	}
}

// TestSlowAckGoesElsewhereAndNeverRunsTwice: a node that takes longer than
// the ack timeout to answer is skipped; when it finally gets to the task it
// refuses it (the front end cancelled it there), so it runs exactly once.
func TestSlowAckGoesElsewhereAndNeverRunsTwice(t *testing.T) {
	_, conn := setup(t)
	released := make(chan struct{})
	checked := make(chan struct{})
	startNode(t, conn(), worker.Config{Name: "slow", Check: func(*wire.Task) error {
		<-released // stuck until the task has run elsewhere
		close(checked)
		return nil
	}})
	startNode(t, conn(), worker.Config{Name: "fast"})
	d, err := New(conn(), nil, Config{AckTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	mark := filepath.Join(t.TempDir(), "ran")
	task := &wire.Task{ID: "once", Command: "echo ran >> " + mark}
	out, err := d.Dispatch(context.Background(), task, []Target{target("slow"), target("fast")}, false, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Node != "fast" || !strings.Contains(out.Declined[0], "no ack within 300ms") {
		t.Fatalf("outcome = %+v", out)
	}
	close(released)
	<-checked
	// The slow node's refusal is counted as an error by its micro service
	// once its handler returns: wait for that, then check what ran.
	waitRefused(t, conn(), "slow")
	b, _ := os.ReadFile(mark)
	if string(b) != "ran\n" {
		t.Fatalf("task ran %d times: %q", strings.Count(string(b), "ran"), b)
	}
}

// waitRefused waits until node's micro service has counted a refusal.
func waitRefused(t *testing.T, nc *nats.Conn, node string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		msgs, _ := statsOf(nc)
		for _, s := range msgs {
			if s.Metadata["node"] != node {
				continue
			}
			for _, e := range s.Endpoints {
				if e.NumErrors > 0 {
					return
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("node %s never refused the late task", node)
}

type svcStats struct {
	Metadata  map[string]string `json:"metadata"`
	Endpoints []struct {
		Name      string `json:"name"`
		NumErrors int    `json:"num_errors"`
	} `json:"endpoints"`
}

// statsOf gathers `nats micro stats fabric-node` answers.
func statsOf(nc *nats.Conn) ([]svcStats, error) {
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest("$SRV.STATS.fabric-node", inbox, nil); err != nil {
		return nil, err
	}
	var out []svcStats
	for {
		m, err := sub.NextMsg(200 * time.Millisecond)
		if err != nil {
			return out, nil
		}
		var s svcStats
		if json.Unmarshal(m.Data, &s) == nil {
			out = append(out, s)
		}
	}
}

func TestRejectedIsFinal(t *testing.T) {
	_, conn := setup(t)
	startNode(t, conn(), worker.Config{Name: "strict", Check: func(*wire.Task) error { return errors.New("rm -rf / is not allowed") }})
	startNode(t, conn(), worker.Config{Name: "other"})
	d, _ := New(conn(), nil, Config{})
	defer d.Close()
	_, err := d.Dispatch(context.Background(), &wire.Task{ID: "x", Command: "rm -rf /"}, []Target{target("strict"), target("other")}, false, Hooks{})
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("err = %v", err)
	}
}

func TestMismatchFallsThrough(t *testing.T) {
	_, conn := setup(t)
	startNode(t, conn(), worker.Config{Name: "plain"})
	startNode(t, conn(), worker.Config{Name: "gpu", Capabilities: []string{"gpu"}})
	d, _ := New(conn(), nil, Config{})
	defer d.Close()
	task := &wire.Task{ID: "x", Command: "echo ok", Requires: wire.Requirements{Capabilities: []string{"gpu"}}}
	out, err := d.Dispatch(context.Background(), task, []Target{target("plain"), target("gpu")}, false, Hooks{})
	if err != nil || out.Node != "gpu" || !strings.Contains(out.Declined[0], "requires capability gpu") {
		t.Fatalf("outcome %+v, err %v", out, err)
	}
}

func TestDetachReturnsOnAccept(t *testing.T) {
	_, conn := setup(t)
	startNode(t, conn(), worker.Config{Name: "n"})
	nc := conn()
	results, _ := nc.SubscribeSync("results.x")
	nc.Flush()
	d, _ := New(conn(), nil, Config{})
	defer d.Close()
	out, err := d.Dispatch(context.Background(), &wire.Task{ID: "x", Command: "sleep 0.2; echo late", ResultTo: "results.x"}, []Target{target("n")}, true, Hooks{})
	if err != nil || out.Node != "n" || out.Result != nil {
		t.Fatalf("outcome %+v, err %v", out, err)
	}
	m, err := results.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var r wire.Result
	if err := wire.Decode(m, &r); err != nil || r.Stdout != "late\n" {
		t.Fatalf("result %+v %v", r, err)
	}
}

func TestCancelByID(t *testing.T) {
	_, conn := setup(t)
	startNode(t, conn(), worker.Config{Name: "n"})
	d, _ := New(conn(), nil, Config{})
	defer d.Close()
	done := make(chan *Outcome, 1)
	accepted := make(chan string, 1)
	go func() {
		out, _ := d.Dispatch(context.Background(), &wire.Task{ID: "c1", Command: "sleep 30"}, []Target{target("n")}, false,
			Hooks{OnAccepted: func(n, _ string) { accepted <- n }})
		done <- out
	}()
	<-accepted
	if err := d.Cancel(context.Background(), "n", "c1", "test says stop"); err != nil {
		t.Fatal(err)
	}
	out := <-done
	if out.Result.Error != wire.ErrCancelled || !strings.Contains(out.Result.Message, "test says stop") {
		t.Fatalf("result %+v", out.Result)
	}
	if err := d.Cancel(context.Background(), "n", "c1", ""); err == nil || !strings.Contains(err.Error(), "no task c1") {
		t.Fatalf("second cancel err = %v", err)
	}
	if err := d.Cancel(context.Background(), "ghost", "c1", ""); err == nil || !strings.Contains(err.Error(), "not connected") {
		t.Fatalf("cancel on ghost err = %v", err)
	}
}
