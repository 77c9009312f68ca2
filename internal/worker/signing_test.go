package worker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/signing"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

// TestSignedTasksOnly: a node with trusted keys refuses unsigned, forged,
// replayed and expired tasks, and runs a properly signed one.
func TestSignedTasksOnly(t *testing.T) {
	kp, _ := nkeys.CreateUser()
	seed, _ := kp.Seed()
	signer, err := signing.NewSigner(seed)
	if err != nil {
		t.Fatal(err)
	}
	v, err := signing.NewVerifier([]string{signer.PublicKey()}, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := fabrictest.StartHub(t, hub.Config{})
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{Verifier: v})
	nc := fabrictest.Connect(t, h.ClientURL())

	send := func(task *wire.Task) (wire.Ack, wire.Result) {
		t.Helper()
		msg, _ := wire.NewMsg("fabric.task.linux.amd64.any.n1", task)
		reply, err := nc.RequestMsg(msg, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var a wire.Ack
		var r wire.Result
		if wire.KindOf(reply) == wire.KindAck {
			wire.Decode(reply, &a)
		} else {
			wire.Decode(reply, &r)
		}
		return a, r
	}
	signed := func(id, cmd string, at time.Time) *wire.Task {
		task := &wire.Task{ID: id, Command: cmd, Submitted: at}
		if err := signer.Sign(task); err != nil {
			t.Fatal(err)
		}
		return task
	}

	// People's plain requests are refused too: nothing unsigned runs.
	reply, err := nc.Request("fabric.task.linux.amd64.any.n1", []byte("echo hi"), 10*time.Second)
	if err != nil || !strings.Contains(string(reply.Data), "not signed") {
		t.Fatalf("plain request: %s %v", reply.Data, err)
	}
	if a, _ := send(&wire.Task{ID: "u", Command: "echo hi", Submitted: time.Now()}); a.Status != wire.AckRejected || !strings.Contains(a.Reason, "not signed") {
		t.Fatalf("unsigned: %+v", a)
	}
	forged := signed("f", "echo hi", time.Now())
	forged.Command = "echo pwned"
	if a, _ := send(forged); a.Status != wire.AckRejected || !strings.Contains(a.Reason, "does not verify") {
		t.Fatalf("forged: %+v", a)
	}
	if a, _ := send(signed("old", "echo hi", time.Now().Add(-10*time.Minute))); a.Status != wire.AckRejected || !strings.Contains(a.Reason, "signing window") {
		t.Fatalf("expired: %+v", a)
	}
	good := signed("good", "echo signed-ok", time.Now())
	inbox := nc.NewRespInbox()
	sub, _ := nc.SubscribeSync(inbox)
	msg, _ := wire.NewMsg("fabric.task.linux.amd64.any.n1", good)
	msg.Reply = inbox
	nc.PublishMsg(msg)
	if a := nextAck(t, sub); a.Status != wire.AckAccepted {
		t.Fatalf("good: %+v", a)
	}
	if r := nextResult(t, sub); r.Stdout != "signed-ok\n" {
		t.Fatalf("good result: %+v", r)
	}
	// The same signed message again: a replay.
	if a, _ := send(good); a.Status != wire.AckRejected || !strings.Contains(a.Reason, "already run") {
		t.Fatalf("replayed: %+v", a)
	}
}
