package worker_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

// fuzzTaskSubject is the node's own task subject in FuzzTaskMessage.
const fuzzTaskSubject = "fabric.task.linux.amd64.any.n1"

// harmless lets a fuzzed task run only if running it can do nothing: its
// command goes to /bin/true (the node's shell in the fuzz), its argv must be
// plain "true", and it carries no environment (LD_PRELOAD and the like).
func harmless(t *wire.Task) error {
	if len(t.Argv) > 0 && t.Argv[0] != "true" {
		return errors.New("fuzz: only argv true runs")
	}
	if len(t.Env) > 0 {
		return errors.New("fuzz: no environment")
	}
	return nil
}

// FuzzTaskMessage feeds a real node, on a real embedded hub, arbitrary task
// messages: any body, with or without fabric's Content-Type and Kind
// headers and an ack deadline. Whatever comes in, the node must answer the
// request (an ack or a result that decodes), must not crash, and must go on
// serving: a plain task after it still runs. Commands run as /bin/true, so
// nothing a fuzzed command says is executed.
func FuzzTaskMessage(f *testing.F) {
	good, _ := wire.Marshal(&wire.Task{ID: "t1", Command: "echo hi", Timeout: wire.Duration(time.Minute)})
	argv, _ := wire.Marshal(&wire.Task{ID: "t2", Argv: []string{"true", "x"}, Requires: wire.Requirements{OS: "linux", Capabilities: []string{"any"}}})
	other, _ := wire.Marshal(&wire.Task{ID: "t3", Command: "ls", Requires: wire.Requirements{OS: "darwin"}})
	nilTime, _ := msgpack.Marshal(map[string]any{"v": 1, "id": "t4", "cmd": "ls", "at": nil})
	future, _ := msgpack.Marshal(map[string]any{"v": 9, "id": "t5", "cmd": "ls"})
	badResultTo, _ := wire.Marshal(&wire.Task{ID: "t6", Command: "ls", ResultTo: "a.>"})
	jsonTask, _ := json.Marshal(&wire.Task{Command: "uname -a", Cwd: "/tmp", Env: map[string]string{"A": "b"}})
	for _, seed := range []struct {
		body        []byte
		contentType uint8 // 0 none, 1 msgpack, 2 JSON
		kind        uint8 // 0 none, 1 task, 2 result
		ackBy       string
	}{
		{good, 1, 1, ""},
		{good, 1, 1, "1"},
		{good, 1, 1, strconv.FormatInt(time.Now().Add(time.Hour).UnixNano(), 10)},
		{good, 1, 2, ""},
		{good, 0, 0, ""},
		{argv, 1, 1, ""},
		{other, 1, 1, ""},
		{nilTime, 1, 1, ""},
		{future, 1, 0, ""},
		{badResultTo, 1, 1, ""},
		{jsonTask, 0, 0, ""},
		{jsonTask, 2, 0, "soon"},
		{[]byte(`{"argv":["true"],"timeout":"1s","output_limit":1}`), 0, 0, ""},
		{[]byte(`{"command":"ls","timeout":-1}`), 0, 0, ""},
		{[]byte(`{"command":`), 0, 0, ""},
		{[]byte("uname -a"), 0, 0, ""},
		{[]byte("{ make; make test; }"), 0, 0, ""},
		{[]byte("\xff\xfe"), 0, 0, ""},
		{[]byte("   "), 0, 0, ""},
		{[]byte{0xde, 0xff, 0xff}, 1, 1, ""},
		{[]byte{0x81, 0xdb, 0x60, 0, 0, 0, 'a'}, 1, 1, ""},
	} {
		f.Add(seed.body, seed.contentType, seed.kind, seed.ackBy)
	}

	h := fabrictest.StartHub(f, hub.Config{})
	fabrictest.StartWorker(f, fabrictest.Connect(f, h.ClientURL()), worker.Config{Shell: "/bin/true", Check: harmless, Slots: 64, MaxTaskBytes: 64 << 10, DefaultTimeout: 10 * time.Second})
	nc := fabrictest.Connect(f, h.ClientURL())
	f.Fuzz(func(t *testing.T, body []byte, contentType, kind uint8, ackBy string) {
		msg := nats.NewMsg(fuzzTaskSubject)
		msg.Data = body
		switch contentType % 3 {
		case 1:
			msg.Header.Set(wire.HeaderContentType, wire.ContentTypeMsgpack)
		case 2:
			msg.Header.Set(wire.HeaderContentType, wire.ContentTypeJSON)
		}
		switch kind % 3 {
		case 1:
			msg.Header.Set(wire.HeaderKind, string(wire.KindTask))
		case 2:
			msg.Header.Set(wire.HeaderKind, string(wire.KindResult))
		}
		if ackBy != "" && !containsCRLF(ackBy) {
			msg.Header.Set(wire.HeaderAckBy, ackBy)
		}
		reply, err := nc.RequestMsg(msg, 10*time.Second)
		if err != nil {
			t.Fatalf("no answer to %q: %v", body, err)
		}
		switch wire.KindOf(reply) {
		case wire.KindAck:
			var a wire.Ack
			if err := wire.Decode(reply, &a); err != nil || a.Status == "" {
				t.Fatalf("answer to %q: ack %+v, %v", body, a, err)
			}
		case wire.KindResult:
			var r wire.Result
			if err := wire.Decode(reply, &r); err != nil {
				t.Fatalf("answer to %q: result %v", body, err)
			}
		default:
			t.Fatalf("answer to %q is neither ack nor result: %q", body, reply.Data)
		}
		// Still serving.
		alive, err := nc.Request(fuzzTaskSubject, []byte("echo alive"), 10*time.Second)
		if err != nil {
			t.Fatalf("after %q: %v", body, err)
		}
		var r wire.Result
		if err := json.Unmarshal(alive.Data, &r); err != nil || r.Node != "n1" || (r.Error != wire.ErrNone && r.Error != wire.ErrBusy) {
			t.Fatalf("after %q: %s (%v)", body, alive.Data, err)
		}
	})
}

// containsCRLF reports whether s would break a header line; nats.go
// rejects such headers before they reach the node.
func containsCRLF(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' || s[i] == '\n' {
			return true
		}
	}
	return false
}
