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

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

// TestMain fails the run if goroutines outlive the tests: every offer,
// follower, reply subscription, hub and worker must be gone by the end.
func TestMain(m *testing.M) { fabrictest.Main(m) }

func setup(t *testing.T) (*hub.Hub, func() *nats.Conn) {
	t.Helper()
	h := fabrictest.StartHub(t, hub.Config{})
	return h, func() *nats.Conn { return fabrictest.Connect(t, h.ClientURL()) }
}

// startNode starts a linux worker with 2 CPUs and no heartbeat loop.
func startNode(t *testing.T, nc *nats.Conn, cfg worker.Config) *worker.Worker {
	t.Helper()
	cfg.Load = worker.FixedLoad{CPUs: 2}
	return fabrictest.StartWorker(t, nc, cfg)
}

// target is a linux worker as the registry knows it.
func target(node string) *registry.Node {
	return &registry.Node{Heartbeat: wire.Heartbeat{Node: node, OS: "linux", Arch: "amd64"}, Via: wire.ViaNATS}
}

// notStarted checks that err says node did not take the task and that
// another may be tried, and returns its text.
func notStarted(t *testing.T, err error, node string) string {
	t.Helper()
	var d *wire.Declined
	if !errors.As(err, &d) || !errors.Is(err, wire.ErrNotStarted) || d.Final || d.Node != node {
		t.Fatalf("err = %v, want %s declining (not started)", err, node)
	}
	return err.Error()
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
	accepted := make(chan struct{}, 1)
	go d.Execute(context.Background(), &wire.Task{ID: "long", Command: "sleep 30"}, target("a"),
		wire.Hooks{OnAccepted: func(string) { accepted <- struct{}{} }})
	<-accepted
	task := &wire.Task{ID: "t", Command: "echo hi"}
	res, err := d.Execute(context.Background(), task, target("a"), wire.Hooks{})
	if why := notStarted(t, err, "a"); res != nil || !strings.Contains(why, "a: busy") || !strings.Contains(why, "1 of 1 slots") {
		t.Fatalf("a: %+v, %v", res, err)
	}
	// It never started on a: the next node may take it.
	res, err = d.Execute(context.Background(), task, target("b"), wire.Hooks{})
	if err != nil || res.Node != "b" || res.Stdout != "hi\n" {
		t.Fatalf("b: %+v, %v", res, err)
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
	_, err = d.Execute(context.Background(), task, target("slow"), wire.Hooks{})
	if why := notStarted(t, err, "slow"); !strings.Contains(why, "no ack within 300ms") {
		t.Fatalf("slow: %v", err)
	}
	res, err := d.Execute(context.Background(), task, target("fast"), wire.Hooks{})
	if err != nil || res.Node != "fast" {
		t.Fatalf("fast: %+v, %v", res, err)
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
	_, err := d.Execute(context.Background(), &wire.Task{ID: "x", Command: "rm -rf /"}, target("strict"), wire.Hooks{})
	var declined *wire.Declined
	if !errors.Is(err, wire.ErrNodeRefused) || errors.Is(err, wire.ErrNotStarted) || !errors.As(err, &declined) || !declined.Final ||
		!strings.Contains(err.Error(), "task refused by strict") || !strings.Contains(err.Error(), "not allowed") {
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
	// A node that does not subscribe to the gpu subject gets no responders;
	// one offered on "any" that lacks gpu says so: either way, not final.
	plain := target("plain")
	_, err := d.Execute(context.Background(), &wire.Task{ID: "x", Command: "echo ok", Requires: wire.Requirements{Capabilities: []string{"any", "gpu"}}}, plain, wire.Hooks{})
	if why := notStarted(t, err, "plain"); !strings.Contains(why, "requires capability gpu") {
		t.Fatalf("plain: %v", err)
	}
	res, err := d.Execute(context.Background(), task, target("gpu"), wire.Hooks{})
	if err != nil || res.Node != "gpu" || res.Stdout != "ok\n" {
		t.Fatalf("gpu: %+v, err %v", res, err)
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
	detach := make(chan struct{})
	res, err := d.Execute(context.Background(), &wire.Task{ID: "x", Command: "sleep 0.2; echo late", ResultTo: "results.x"}, target("n"),
		wire.Hooks{OnAccepted: func(string) { close(detach) }, Detach: detach})
	if err != nil || res != nil {
		t.Fatalf("result %+v, err %v", res, err)
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
	n := startNode(t, conn(), worker.Config{Name: "n"})
	d, _ := New(conn(), nil, Config{})
	defer d.Close()
	done := make(chan *wire.Result, 1)
	accepted := make(chan struct{}, 1)
	go func() {
		res, _ := d.Execute(context.Background(), &wire.Task{ID: "c1", Command: "sleep 30"}, target("n"),
			wire.Hooks{OnAccepted: func(string) { accepted <- struct{}{} }})
		done <- res
	}()
	<-accepted
	if err := d.Cancel(context.Background(), "n", "c1", "test says stop"); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.Error != wire.ErrCancelled || !strings.Contains(res.Message, "test says stop") {
		t.Fatalf("result %+v", res)
	}
	// The node sends the result, then forgets the task.
	fabrictest.Eventually(t, 10*time.Second, "node n to forget c1", func() bool { return n.Heartbeat().Running == 0 })
	if err := d.Cancel(context.Background(), "n", "c1", ""); err == nil || !strings.Contains(err.Error(), "no task c1") {
		t.Fatalf("second cancel err = %v", err)
	}
	if err := d.Cancel(context.Background(), "ghost", "c1", ""); err == nil || !strings.Contains(err.Error(), "not connected") {
		t.Fatalf("cancel on ghost err = %v", err)
	}
}

// TestCloseEndsTheFollowing: closing the dispatcher ends the following of
// a task in progress with ErrClosed, rather than leaving it waiting for
// replies that can no longer arrive; the task itself runs on.
func TestCloseEndsTheFollowing(t *testing.T) {
	_, conn := setup(t)
	w := startNode(t, conn(), worker.Config{Name: "n"})
	d, err := New(conn(), nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := d.Execute(context.Background(), &wire.Task{ID: "long", Command: "sleep 30"}, target("n"),
			wire.Hooks{OnAccepted: func(string) { close(accepted) }})
		done <- err
	}()
	<-accepted
	d.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
	if hb := w.Heartbeat(); hb.Running != 1 {
		t.Fatalf("the node runs %d tasks, want the one still running", hb.Running)
	}
	d.Close() // twice is fine
}
