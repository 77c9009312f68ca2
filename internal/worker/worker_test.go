package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/runner"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
	"github.com/fabric-run/fabric/subjects"
)

func request(t *testing.T, nc *nats.Conn, subject string, data []byte) wire.Result {
	t.Helper()
	msg, err := nc.Request(subject, data, 10*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	var res wire.Result
	if err := json.Unmarshal(msg.Data, &res); err != nil {
		t.Fatalf("reply %q is not a JSON result: %v", msg.Data, err)
	}
	return res
}

// TestPlainAndJSONRequests is what `nats req fabric.task.linux.amd64.any 'uname -a'` does.
func TestPlainAndJSONRequests(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{})
	nc := fabrictest.Connect(t, h.ClientURL())
	res := request(t, nc, "fabric.task.linux.amd64.any", []byte("echo hello; echo oops >&2; exit 4"))
	if res.Stdout != "hello\n" || res.Stderr != "oops\n" || res.ExitCode != 4 || res.Node != "n1" || res.ID == "" {
		t.Fatalf("plain result = %+v", res)
	}
	res = request(t, nc, "fabric.task.linux.amd64.any.n1", []byte(`{"command":"pwd","cwd":"/tmp"}`))
	if res.Stdout != "/tmp\n" || res.ExitCode != 0 {
		t.Fatalf("json result = %+v", res)
	}
}

// TestBadInput: each malformed message gets an error reply naming what is
// wrong, and the node keeps serving.
func TestBadInput(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{MaxTaskBytes: 1024})
	nc := fabrictest.Connect(t, h.ClientURL())
	mp := func(b []byte) *nats.Msg {
		m := nats.NewMsg("fabric.task.linux.amd64.any.n1")
		m.Header.Set(wire.HeaderContentType, wire.ContentTypeMsgpack)
		m.Data = b
		return m
	}
	future, _ := msgpack.Marshal(map[string]any{"v": 9, "id": "x", "cmd": "ls"})
	tests := []struct {
		name string
		msg  *nats.Msg
		want string
	}{
		{"malformed msgpack", mp([]byte{0x85, 0xa2, 0x69}), "not valid msgpack"},
		{"truncated json", &nats.Msg{Subject: "fabric.task.linux.amd64.any.n1", Data: []byte(`{"command": "ls`)}, "not valid JSON"},
		{"empty body", &nats.Msg{Subject: "fabric.task.linux.amd64.any.n1"}, "empty message"},
		{"unknown version", mp(future), "version 9"},
		{"oversized", &nats.Msg{Subject: "fabric.task.linux.amd64.any.n1", Data: []byte(strings.Repeat("x", 2000))}, "at most 1024"},
		{"wrong os", &nats.Msg{Subject: "fabric.task.linux.amd64.any.n1", Data: []byte(`{"command":"ls","requires":{"os":"darwin"}}`)}, "requires os darwin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply, err := nc.RequestMsg(tt.msg, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			var res wire.Result
			var ack wire.Ack
			text := ""
			if wire.KindOf(reply) == wire.KindAck {
				if err := wire.Decode(reply, &ack); err != nil {
					t.Fatal(err)
				}
				text = ack.Reason
			} else {
				if err := wire.Decode(reply, &res); err != nil {
					t.Fatal(err)
				}
				if res.Error == wire.ErrNone {
					t.Fatalf("no error in %+v", res)
				}
				text = res.Message
			}
			if !strings.Contains(text, tt.want) {
				t.Fatalf("error %q does not contain %q", text, tt.want)
			}
			if reply.Header.Get("Nats-Service-Error-Code") == "" {
				t.Errorf("refusal not counted as a service error")
			}
		})
	}
	// Invalid subject tokens never reach a node: the builder refuses them.
	if _, err := subjects.Default().Task("linux", "amd64", "any", "n1.x"); err == nil {
		t.Fatal("invalid node token accepted")
	}
	// Still serving.
	if res := request(t, nc, "fabric.task.linux.amd64.any.n1", []byte("echo alive")); res.Stdout != "alive\n" {
		t.Fatalf("after bad input: %+v", res)
	}
}

func TestBusyBeyondSlots(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	w := fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{Slots: 1})
	nc := fabrictest.Connect(t, h.ClientURL())
	inbox := nc.NewRespInbox()
	sub, _ := nc.SubscribeSync(inbox)
	task := &wire.Task{ID: "long", Command: "sleep 30"}
	msg, _ := wire.NewMsg("fabric.task.linux.amd64.any.n1", task)
	msg.Reply = inbox
	nc.PublishMsg(msg)
	ack := nextAck(t, sub)
	if ack.Status != wire.AckAccepted || ack.Instance == "" {
		t.Fatalf("first ack = %+v", ack)
	}
	msg2, _ := wire.NewMsg("fabric.task.linux.amd64.any.n1", &wire.Task{ID: "second", Command: "true"})
	reply, err := nc.RequestMsg(msg2, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var ack2 wire.Ack
	if err := wire.Decode(reply, &ack2); err != nil || ack2.Status != wire.AckBusy || !strings.Contains(ack2.Reason, "1 of 1 slots") {
		t.Fatalf("second ack = %+v, %v", ack2, err)
	}
	if hb := w.Heartbeat(); hb.Running != 1 || hb.Slots != 1 {
		t.Fatalf("heartbeat running/slots = %d/%d", hb.Running, hb.Slots)
	}
	// Cancel the long one by plain-text id on the cancel subject.
	creply, err := nc.Request("fabric.cancel.n1", []byte("long"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var cack wire.Ack
	if err := json.Unmarshal(creply.Data, &cack); err != nil || cack.Status != wire.AckAccepted {
		t.Fatalf("cancel ack = %s, %v", creply.Data, err)
	}
	res := nextResult(t, sub)
	if res.Error != wire.ErrCancelled {
		t.Fatalf("cancelled result = %+v", res)
	}
}

// TestFinishedTaskIsNotRunning: once its result is out, a task is no
// longer running on the node: not in its heartbeat, and a cancel for it is
// refused. A front end acting on the result at once (cancelling, counting
// the node's load) must never see the task still running.
func TestFinishedTaskIsNotRunning(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	w := fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{})
	nc := fabrictest.Connect(t, h.ClientURL())
	inbox := nc.NewRespInbox()
	sub, _ := nc.SubscribeSync(inbox)
	for i := range 20 { // the window the result once came in was narrow
		id := fmt.Sprintf("t%d", i)
		msg, _ := wire.NewMsg("fabric.task.linux.amd64.any.n1", &wire.Task{ID: id, Command: "true", ResultTo: "results." + id})
		msg.Reply = inbox
		nc.PublishMsg(msg)
		if res := nextResult(t, sub); res.ID != id || res.ExitCode != 0 {
			t.Fatalf("result %+v", res)
		}
		if hb := w.Heartbeat(); hb.Running != 0 {
			t.Fatalf("task %s: result out, heartbeat still counts %d running", id, hb.Running)
		}
		reply, err := nc.Request("fabric.cancel.n1", []byte(id), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var ack wire.Ack
		if err := json.Unmarshal(reply.Data, &ack); err != nil || ack.Status != wire.AckRejected || !strings.Contains(ack.Reason, "no task "+id) {
			t.Fatalf("cancel of finished task %s: ack %s", id, reply.Data)
		}
	}
}

func TestCancelUnknownTask(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{})
	nc := fabrictest.Connect(t, h.ClientURL())
	reply, err := nc.Request("fabric.cancel.n1", []byte(`{"id":"nope"}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var ack wire.Ack
	if err := json.Unmarshal(reply.Data, &ack); err != nil || ack.Status != wire.AckRejected || !strings.Contains(ack.Reason, "no task nope") {
		t.Fatalf("ack = %s", reply.Data)
	}
}

func TestPingAnswersJSONToPeopleAndMsgpackToFabric(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{Capabilities: []string{"gpu"}, Slots: 3})
	nc := fabrictest.Connect(t, h.ClientURL())
	reply, err := nc.Request("fabric.ping", nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var hb wire.Heartbeat
	if err := json.Unmarshal(reply.Data, &hb); err != nil || hb.Node != "n1" || !hb.HasCapability("gpu") || hb.Slots != 3 || hb.State != wire.StateReady {
		t.Fatalf("ping reply = %s (%v)", reply.Data, err)
	}
	m := nats.NewMsg("fabric.ping")
	m.Header.Set(wire.HeaderContentType, wire.ContentTypeMsgpack)
	reply, err = nc.RequestMsg(m, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := wire.Decode(reply, &hb); err != nil || wire.FormatOf(reply) != wire.FormatMsgpack {
		t.Fatalf("msgpack ping: %v", err)
	}
}

func TestHeartbeatLoopAndLeaving(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	nc := fabrictest.Connect(t, h.ClientURL())
	sub, _ := nc.SubscribeSync("fabric.heartbeat.n1")
	w := fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{HeartbeatInterval: 50 * time.Millisecond})
	for i := 0; i < 3; i++ {
		var hb wire.Heartbeat
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := wire.Decode(m, &hb); err != nil || hb.State != wire.StateReady {
			t.Fatalf("heartbeat %d: %+v %v", i, hb, err)
		}
	}
	w.Close()
	// The last heartbeat says leaving.
	var last wire.Heartbeat
	for {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("no leaving heartbeat: %v", err)
		}
		wire.Decode(m, &last)
		if last.State == wire.StateLeaving {
			break
		}
	}
}

// TestStreamingWithFlowControl: a front end that answers credit requests
// late still receives every byte, in order.
func TestStreamingWithFlowControl(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{FlowWindow: 64 << 10})
	nc := fabrictest.Connect(t, h.ClientURL())
	inbox := nc.NewRespInbox()
	var (
		mu    sync.Mutex
		got   int
		seq   uint64
		done  = make(chan wire.Result, 1)
		order = true
	)
	nc.Subscribe(inbox, func(m *nats.Msg) {
		switch wire.KindOf(m) {
		case wire.KindChunk:
			var c wire.Chunk
			wire.Decode(m, &c)
			mu.Lock()
			got += len(c.Data)
			if c.Seq != seq+1 {
				order = false
			}
			seq = c.Seq
			mu.Unlock()
			if m.Reply != "" {
				time.Sleep(5 * time.Millisecond) // a slow reader
				m.Respond(nil)
			}
		case wire.KindResult:
			var r wire.Result
			wire.Decode(m, &r)
			done <- r
		}
	})
	msg, _ := wire.NewMsg("fabric.task.linux.amd64.any.n1", &wire.Task{ID: "big", Command: "head -c 5000000 /dev/zero"})
	msg.Reply = inbox
	nc.PublishMsg(msg)
	select {
	case r := <-done:
		mu.Lock()
		defer mu.Unlock()
		if got != 5000000 || !order || r.StdoutBytes != 5000000 || !r.StdoutTruncated {
			t.Fatalf("streamed %d bytes (in order: %v), result bytes %d truncated %v", got, order, r.StdoutBytes, r.StdoutTruncated)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no result")
	}
}

// TestOutputLimitFitsMaxPayload: against a server with a small max payload
// the node keeps less, so its result still goes through.
func TestOutputLimitFitsMaxPayload(t *testing.T) {
	h, err := hub.Start(hub.Config{MaxPayload: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{})
	nc := fabrictest.Connect(t, h.ClientURL())
	res := request(t, nc, "fabric.task.linux.amd64.any.n1", []byte("head -c 3000000 /dev/zero | tr '\\0' a; head -c 3000000 /dev/zero | tr '\\0' b >&2"))
	if !res.StdoutTruncated || !res.StderrTruncated || res.StdoutBytes != 3000000 || len(res.Stdout) > 128<<10 {
		t.Fatalf("result: truncated %v/%v, bytes %d, kept %d", res.StdoutTruncated, res.StderrTruncated, res.StdoutBytes, len(res.Stdout))
	}
}

func TestDrainLetsRunningTaskFinish(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	w := fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{})
	nc := fabrictest.Connect(t, h.ClientURL())
	inbox := nc.NewRespInbox()
	sub, _ := nc.SubscribeSync(inbox)
	msg, _ := wire.NewMsg("fabric.task.linux.amd64.any.n1", &wire.Task{ID: "t", Command: "sleep 0.5; echo finished"})
	msg.Reply = inbox
	nc.PublishMsg(msg)
	if ack := nextAck(t, sub); ack.Status != wire.AckAccepted {
		t.Fatalf("ack = %+v", ack)
	}
	drained := make(chan error, 1)
	go func() { drained <- w.Drain(context.Background()) }()
	// While draining, new work is turned away.
	fabrictest.Eventually(t, 10*time.Second, "the node draining", func() bool { return w.Heartbeat().State == wire.StateDraining })
	m2, _ := wire.NewMsg("fabric.task.linux.amd64.any.n1", &wire.Task{ID: "t2", Command: "true"})
	if reply, err := nc.RequestMsg(m2, 5*time.Second); err == nil {
		var a wire.Ack
		if wire.Decode(reply, &a); a.Status != wire.AckDraining {
			t.Fatalf("task during drain: %+v", a)
		}
	}
	res := nextResult(t, sub)
	if res.Stdout != "finished\n" || res.Error != wire.ErrNone {
		t.Fatalf("result = %+v", res)
	}
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
}

func TestDrainGraceCancelsStragglers(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	w := fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{DrainGrace: 200 * time.Millisecond})
	nc := fabrictest.Connect(t, h.ClientURL())
	inbox := nc.NewRespInbox()
	sub, _ := nc.SubscribeSync(inbox)
	msg, _ := wire.NewMsg("fabric.task.linux.amd64.any.n1", &wire.Task{ID: "t", Command: "echo $$; sleep 300"})
	msg.Reply = inbox
	nc.PublishMsg(msg)
	nextAck(t, sub)
	pid := nextChunkPid(t, sub) // the shell is running
	if err := w.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := nextResult(t, sub)
	if res.Error != wire.ErrCancelled || !strings.Contains(res.Message, "shutting down") {
		t.Fatalf("result = %+v", res)
	}
	fabrictest.Eventually(t, 10*time.Second, "the task's process gone", func() bool { return !runner.Alive(pid) })
}

// nextChunkPid reads output chunks until one holds a number: a pid.
func nextChunkPid(t *testing.T, sub *nats.Subscription) int {
	t.Helper()
	for {
		m, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if wire.KindOf(m) != wire.KindChunk {
			continue
		}
		var c wire.Chunk
		if err := wire.Decode(m, &c); err != nil {
			t.Fatal(err)
		}
		var pid int
		if _, err := fmt.Sscan(string(c.Data), &pid); err == nil && pid > 0 {
			return pid
		}
	}
}

func nextAck(t *testing.T, sub *nats.Subscription) wire.Ack {
	t.Helper()
	return nextOf[wire.Ack](t, sub, wire.KindAck, 10*time.Second)
}

func nextResult(t *testing.T, sub *nats.Subscription) wire.Result {
	t.Helper()
	return nextOf[wire.Result](t, sub, wire.KindResult, 30*time.Second)
}

// nextOf reads from sub, each message within limit, until a message of
// kind comes, and returns it decoded.
func nextOf[T any, P interface {
	*T
	wire.Message
}](t *testing.T, sub *nats.Subscription, kind wire.Kind, limit time.Duration) T {
	t.Helper()
	for {
		m, err := sub.NextMsg(limit)
		if err != nil {
			t.Fatal(err)
		}
		if wire.KindOf(m) == kind {
			var v T
			if err := wire.Decode(m, P(&v)); err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
}

// TestReconnectsAndHeartbeatsAgain: the hub goes away and comes back on the
// same address; the node reconnects by itself and heartbeats at once (the
// interval here is far too long for the loop to do it).
func TestReconnectsAndHeartbeatsAgain(t *testing.T) {
	h1, err := hub.Start(hub.Config{})
	if err != nil {
		t.Fatal(err)
	}
	addr := h1.Addr().String()
	gate := &gatedDialer{}
	nc, err := nats.Connect(h1.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond), nats.SetCustomDialer(gate))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	w, err := worker.New(nc, worker.Config{Name: "n1", OS: "linux", Arch: "amd64", NoDetect: true, Load: worker.FixedLoad{CPUs: 1}, HeartbeatInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	gate.close() // hold the node's redials until the watcher below listens
	h1.Close()
	h2, err := hub.Start(hub.Config{Listen: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	defer w.Close() // before the hub goes
	watcher := fabrictest.Connect(t, h2.ClientURL())
	sub, _ := watcher.SubscribeSync("fabric.heartbeat.n1")
	watcher.Flush()
	gate.open()
	m, err := sub.NextMsg(20 * time.Second)
	if err != nil {
		t.Fatalf("no heartbeat after the hub came back: %v", err)
	}
	var hb wire.Heartbeat
	if err := wire.Decode(m, &hb); err != nil || hb.Node != "n1" {
		t.Fatalf("heartbeat %+v %v", hb, err)
	}
	// And it takes tasks again.
	if res := request(t, watcher, "fabric.task.linux.amd64.any.n1", []byte("echo back")); res.Stdout != "back\n" {
		t.Fatalf("after reconnect: %+v", res)
	}
}

// gatedDialer dials TCP, but while closed makes dials wait until opened.
type gatedDialer struct {
	mu      sync.Mutex
	blocked chan struct{} // nil: open
}

func (g *gatedDialer) Dial(network, address string) (net.Conn, error) {
	g.mu.Lock()
	b := g.blocked
	g.mu.Unlock()
	if b != nil {
		<-b
	}
	return net.Dial(network, address)
}

func (g *gatedDialer) close() {
	g.mu.Lock()
	g.blocked = make(chan struct{})
	g.mu.Unlock()
}

func (g *gatedDialer) open() {
	g.mu.Lock()
	if g.blocked != nil {
		close(g.blocked)
		g.blocked = nil
	}
	g.mu.Unlock()
}

// TestOutputToStreamsForFollowers: a task's output also goes, unflowed, to
// its OutputTo subject, where any front end can follow it.
func TestOutputToStreamsForFollowers(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{})
	nc := fabrictest.Connect(t, h.ClientURL())
	follow, _ := nc.SubscribeSync("fabric.output.t1")
	nc.Flush()
	res := request(t, nc, "fabric.task.linux.amd64.any.n1", []byte(`{"id":"t1","command":"echo one; echo two >&2","output_to":"fabric.output.t1"}`))
	if res.ExitCode != 0 {
		t.Fatalf("result %+v", res)
	}
	got := map[wire.Stream]string{}
	for len(got[wire.Stdout]+got[wire.Stderr]) < len("one\ntwo\n") {
		m, err := follow.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("followed %v: %v", got, err)
		}
		var c wire.Chunk
		if err := wire.Decode(m, &c); err != nil || c.ID != "t1" {
			t.Fatalf("chunk %+v %v", c, err)
		}
		got[c.Stream] += string(c.Data)
	}
	if got[wire.Stdout] != "one\n" || got[wire.Stderr] != "two\n" {
		t.Fatalf("followed %q", got)
	}
}

// TestEarlyCancelStopsOnlyItsOffer: a front end that gave up on one offer of
// a task cancels that offer; a later offer of the same task still runs.
func TestEarlyCancelStopsOnlyItsOffer(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{})
	nc := fabrictest.Connect(t, h.ClientURL())
	cancel, _ := wire.NewMsg("fabric.cancel.n1", &wire.Cancel{ID: "t", Offer: "first"})
	if reply, err := nc.RequestMsg(cancel, 5*time.Second); err != nil || !strings.Contains(string(reply.Data), "no task t") {
		t.Fatalf("cancel before the task: %v", err)
	}
	offer := func(token string) wire.Ack {
		msg, _ := wire.NewMsg("fabric.task.linux.amd64.any.n1", &wire.Task{ID: "t", Command: "true"})
		wire.SetOffer(msg, token)
		reply, err := nc.RequestMsg(msg, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var a wire.Ack
		if err := wire.Decode(reply, &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	if a := offer("first"); a.Status != wire.AckRejected || !strings.Contains(a.Reason, "cancelled before it started") {
		t.Fatalf("the cancelled offer: %+v", a)
	}
	if a := offer("second"); a.Status != wire.AckAccepted {
		t.Fatalf("a later offer: %+v", a)
	}
}
