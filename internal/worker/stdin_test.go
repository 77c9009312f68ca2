package worker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/feed"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/signing"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

// feedClient is a client that streams src as its task's input.
func feedClient(t *testing.T, c *client, id string, src []byte, sign func(*wire.Input) error) (wait func() error) {
	t.Helper()
	c.feed = feed.New(c.nc, id, bytes.NewReader(src), feed.Config{Sign: sign})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var err error
	wg.Go(func() { err = c.feed.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return func() error { wg.Wait(); return err }
}

// TestStreamedStdin: input streamed from the submitter reaches the command
// whole, in order, then end of file; the command reads it no faster than
// it asks.
func TestStreamedStdin(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{})
	data := make([]byte, 16<<20+12345)
	rand.Read(data)
	c := newClient(t, h)
	wait := feedClient(t, c, "in", data, nil)
	c.send(&wire.Task{ID: "in", Command: "sha256sum; echo EOF-SEEN", TaskV2: wire.TaskV2{StdinStream: true}})
	r := c.result()
	if want := fmt.Sprintf("%x  -\nEOF-SEEN\n", sha256.Sum256(data)); r.Error != wire.ErrNone || r.Stdout != want {
		t.Fatalf("result = %+v, want stdout %q", r, want)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if sent := c.feed.Sent(); sent != int64(len(data)) {
		t.Fatalf("sent %d bytes, want %d", sent, len(data))
	}
}

// TestInlineStdin: input carried in the task, also from the nats CLI (JSON,
// base64).
func TestInlineStdin(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{})
	c := newClient(t, h)
	c.send(&wire.Task{Command: "wc -l", TaskV2: wire.TaskV2{Stdin: []byte("a\nb\nc\n")}})
	if r := c.result(); strings.TrimSpace(r.Stdout) != "3" {
		t.Fatalf("inline stdin: %+v", r)
	}
	body := fmt.Sprintf(`{"command":"cat","stdin":%q}`, base64.StdEncoding.EncodeToString([]byte("from json\n")))
	if r := request(t, fabrictest.Connect(t, h.ClientURL()), "fabric.task.linux.amd64.any.n1", []byte(body)); r.Stdout != "from json\n" {
		t.Fatalf("JSON task with stdin: %+v", r)
	}
	if r := request(t, fabrictest.Connect(t, h.ClientURL()), "fabric.task.linux.amd64.any.n1", []byte(`{"command":"cat","stdin_stream":true}`)); r.Error != wire.ErrBadRequest || !strings.Contains(r.Message, "needs a fabric front end") {
		t.Fatalf("JSON task asking to stream: %+v, want bad_request", r)
	}
}

// TestSignedStdin: on a node that requires signatures, inline input is
// covered by the task's signature and each streamed piece must be signed
// by the task's signer: a piece signed by another key, or by nobody,
// kills the task before the command reads it.
func TestSignedStdin(t *testing.T) {
	signerOf := func() *signing.Signer {
		kp, _ := nkeys.CreateUser()
		seed, _ := kp.Seed()
		s, err := signing.NewSigner(seed)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good, evil := signerOf(), signerOf()
	v, err := signing.NewVerifier([]string{good.PublicKey()}, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := fabrictest.StartHub(t, hub.Config{})
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{Verifier: v})
	task := func(id string, v2 wire.TaskV2) *wire.Task {
		tk := &wire.Task{ID: id, Command: "cat", Submitted: time.Now(), TaskV2: v2}
		if err := good.Sign(tk); err != nil {
			t.Fatal(err)
		}
		return tk
	}

	c := newClient(t, h)
	tampered := task("inline-tampered", wire.TaskV2{Stdin: []byte("pay alice 10\n")})
	tampered.Stdin = []byte("pay mallory 1000\n")
	c.send(tampered)
	if a := c.ack(); a.Status != wire.AckRejected || !strings.Contains(a.Reason, "signature") {
		t.Fatalf("inline input changed after signing: %+v", a)
	}

	for _, tc := range []struct {
		name string
		sign func(*wire.Input) error
		ok   bool
	}{
		{"signed by the task's signer", good.SignInput, true},
		{"signed by another key", evil.SignInput, false},
		{"unsigned", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := strings.ReplaceAll(tc.name, " ", "-")
			c := newClient(t, h)
			feedClient(t, c, id, []byte("secret input\n"), tc.sign)
			c.send(task(id, wire.TaskV2{StdinStream: true}))
			r := c.result()
			if tc.ok {
				if r.Error != wire.ErrNone || r.Stdout != "secret input\n" {
					t.Fatalf("result = %+v", r)
				}
				return
			}
			if r.Error != wire.ErrCancelled || !strings.Contains(r.Message, "standard input broke off at byte 0") || r.Stdout != "" {
				t.Fatalf("result = %+v, want killed before reading", r)
			}
		})
	}
}

// TestStdinSubmitterGone: a submitter that goes away mid-input does not
// leave the command waiting for the rest: it is killed, saying why.
func TestStdinSubmitterGone(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{})
	results, err := fabrictest.Connect(t, h.ClientURL()).SubscribeSync("results.orphan")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, h)
	c.send(&wire.Task{ID: "orphan", Command: "cat > /dev/null", ResultTo: "results.orphan", TaskV2: wire.TaskV2{StdinStream: true}})
	m := c.next(wire.KindInputWant)
	// Send more than a quarter window, so the node asks again, then leave.
	msg, _ := wire.NewMsg(m.Reply, &wire.Input{ID: "orphan", Data: make([]byte, 300<<10)})
	if err := c.nc.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	if err := c.sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	r := nextResult(t, results)
	if r.Error != wire.ErrCancelled || !strings.Contains(r.Message, "broke off at byte 307200: its submitter is gone") {
		t.Fatalf("result = %+v", r)
	}
}

// TestStdinBrokenStream: pieces that skip input, or go past what the node
// allowed, kill the task rather than feed it a corrupt input.
func TestStdinBrokenStream(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{})
	for _, tc := range []struct {
		name string
		in   wire.Input
		says string
	}{
		{"gap", wire.Input{Offset: 10, Data: []byte("x")}, "starts at byte 10: pieces were lost"},
		{"past its credit", wire.Input{Data: make([]byte, 2<<20)}, "past the 1048576 it was allowed"},
		{"another task's", wire.Input{Data: []byte("x")}, "came for it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, h)
			c.send(&wire.Task{ID: "broken", Command: "cat", TaskV2: wire.TaskV2{StdinStream: true}})
			m := c.next(wire.KindInputWant)
			in := tc.in
			in.ID = "broken"
			if tc.name == "another task's" {
				in.ID = "someone-else"
			}
			msg, _ := wire.NewMsg(m.Reply, &in)
			if err := c.nc.PublishMsg(msg); err != nil {
				t.Fatal(err)
			}
			if r := c.result(); r.Error != wire.ErrCancelled || !strings.Contains(r.Message, tc.says) {
				t.Fatalf("result = %+v, want %q", r, tc.says)
			}
		})
	}
}

// TestIdleTimeoutOnNode: the node kills a task that printed nothing for
// its idle timeout, with idle_timeout, not timeout.
func TestIdleTimeoutOnNode(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	fabrictest.StartWorker(t, fabrictest.Connect(t, h.ClientURL()), worker.Config{})
	c := newClient(t, h)
	c.send(&wire.Task{Command: "echo hi; sleep 60", Timeout: wire.Duration(time.Minute), TaskV2: wire.TaskV2{IdleTimeout: wire.Duration(300 * time.Millisecond)}})
	if r := c.result(); r.Error != wire.ErrIdleTimeout || r.Stdout != "hi\n" {
		t.Fatalf("result = %+v, want idle_timeout", r)
	}
}
