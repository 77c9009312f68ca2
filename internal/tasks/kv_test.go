package tasks

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/wire"
)

// publishResult publishes res on subject as a node does: a plain core-NATS
// publish of a msgpack result.
func publishResult(t *testing.T, nc *nats.Conn, subject string, res *wire.Result) {
	t.Helper()
	msg, err := wire.NewMsg(subject, res)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.PublishMsg(msg); err != nil {
		t.Fatalf("publish result: %v", err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

func TestNodePublishedResult(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{JetStream: true})
	s := open(t, fabrictest.Connect(t, h.ClientURL()), Config{})
	node := fabrictest.Connect(t, h.ClientURL()) // the node has a connection of its own
	ctx := ctxT(t)

	id := wire.NewTaskID()
	if sub := s.ResultSubject(id); sub != "$KV.fabric-tasks.res."+id {
		t.Fatalf("ResultSubject = %q", sub)
	}
	rec := sampleRecord(id)
	rec.State, rec.Node = StateRunning, "n1"
	if err := s.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got := make(chan *wire.Result, 1)
	errc := make(chan error, 1)
	go func() {
		res, err := s.WaitResult(ctx, id)
		got <- res
		errc <- err
	}()
	waitPending(t, s, id)

	want := sampleResult(id)
	want.Error, want.ExitCode = wire.ErrTimeout, -1
	publishResult(t, node, s.ResultSubject(id), want)
	res := <-got
	if err := <-errc; err != nil {
		t.Fatalf("WaitResult: %v", err)
	}
	assertResult(t, res, want)

	r, res, err := s.Get(ctx, id)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	assertResult(t, res, want)
	if st := StateOf(r, res); st != StateFailed {
		t.Errorf("StateOf = %q, want %q", st, StateFailed)
	}
}

func TestScriptPublishedJSONResult(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{JetStream: true})
	s := open(t, fabrictest.Connect(t, h.ClientURL()), Config{})
	nc := fabrictest.Connect(t, h.ClientURL())
	id := wire.NewTaskID()
	// What `nats pub '$KV.fabric-tasks.res.<id>' '{...}'` would send.
	body, _ := json.Marshal(map[string]any{"exit_code": 3, "node": "n2", "stdout": "x"})
	if err := nc.Publish(s.ResultSubject(id), body); err != nil {
		t.Fatal(err)
	}
	res, err := s.WaitResult(ctxT(t), id)
	if err != nil {
		t.Fatalf("WaitResult: %v", err)
	}
	if res.ID != id || res.ExitCode != 3 || res.Node != "n2" || res.Stdout != "x" {
		t.Errorf("result = %+v", res)
	}

	// A result naming another task is refused, not misfiled.
	other := wire.NewTaskID()
	publishResult(t, nc, s.ResultSubject(other), sampleResult(id))
	if _, err := s.WaitResult(ctxT(t), other); !errors.Is(err, wire.ErrMalformed) {
		t.Errorf("WaitResult(misfiled) = %v, want wire.ErrMalformed", err)
	}
}

func TestPersistsAcrossClientsAndRestart(t *testing.T) {
	dir := t.TempDir()
	id, fromNode := wire.NewTaskID(), wire.NewTaskID()
	rec := sampleRecord(id)
	want := sampleResult(id)
	nodeRes := sampleResult(fromNode)
	nodeRes.Error = wire.ErrCancelled
	{
		h, err := hub.Start(hub.Config{JetStream: true, StoreDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(h.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		s, err := Open(ctxT(t), nc, Config{})
		if err != nil {
			t.Fatal(err)
		}
		ctx := ctxT(t)
		if err := s.Create(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if err := s.PutResult(ctx, want); err != nil {
			t.Fatal(err)
		}
		// A task whose front end died: only the node's result is left.
		node, err := nats.Connect(h.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		publishResult(t, node, s.ResultSubject(fromNode), nodeRes)
		if _, err := s.WaitResult(ctx, fromNode); err != nil {
			t.Fatal(err)
		}

		// Another client sees it all.
		other := open(t, fabrictest.Connect(t, h.ClientURL()), Config{})
		if _, res, err := other.Get(ctx, id); err != nil || res == nil {
			t.Fatalf("Get from another client = %v, %v", res, err)
		}
		other.Close()
		s.Close()
		node.Close()
		nc.Close()
		h.Close()
	}

	h := fabrictest.StartHub(t, hub.Config{JetStream: true, StoreDir: dir})
	s := open(t, fabrictest.Connect(t, h.ClientURL()), Config{})
	ctx := ctxT(t)
	got, res, err := s.Get(ctx, id)
	if err != nil {
		t.Fatalf("Get after restart: %v", err)
	}
	assertRecord(t, got, rec)
	assertResult(t, res, want)
	got, res, err = s.Get(ctx, fromNode)
	if err != nil {
		t.Fatalf("Get node-published after restart: %v", err)
	}
	assertResult(t, res, nodeRes)
	if st := StateOf(got, res); st != StateCancelled {
		t.Errorf("StateOf = %q, want %q", st, StateCancelled)
	}
}

func TestOpenWithoutJetStreamFallsBackToMemory(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	nc := fabrictest.Connect(t, h.ClientURL())
	s := open(t, nc, Config{})
	if s.Backend() != BackendMemory {
		t.Fatalf("Backend = %q, want %q", s.Backend(), BackendMemory)
	}
	if sub := s.ResultSubject(wire.NewTaskID()); sub != "" {
		t.Errorf("ResultSubject = %q, want \"\" for memory", sub)
	}
	if got, want := s.(*memStore).cfg.MaxValueSize, int(nc.MaxPayload()); got != want {
		t.Errorf("memory MaxValueSize = %d, want the server's max payload %d", got, want)
	}
	id := wire.NewTaskID()
	if err := s.Create(ctxT(t), sampleRecord(id)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctxT(t), id); err != nil {
		t.Fatal(err)
	}
}

func TestOpenUpdatesBucket(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{JetStream: true})
	nc := fabrictest.Connect(t, h.ClientURL())
	ttl := func(s Store) time.Duration {
		st, err := s.(*kvStore).kv.Status(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		return st.TTL()
	}
	s1 := open(t, nc, Config{MaxAge: time.Hour})
	id := wire.NewTaskID()
	if err := s1.Create(ctxT(t), sampleRecord(id)); err != nil {
		t.Fatal(err)
	}
	if got := ttl(s1); got != time.Hour {
		t.Fatalf("TTL = %s, want 1h", got)
	}
	s2 := open(t, nc, Config{MaxAge: 2 * time.Hour})
	if got := ttl(s2); got != 2*time.Hour {
		t.Errorf("TTL after reopening = %s, want 2h", got)
	}
	if _, _, err := s2.Get(ctxT(t), id); err != nil {
		t.Errorf("record lost by the update: %v", err)
	}
	if _, err := Open(ctxT(t), nc, Config{Bucket: "no.dots"}); err == nil {
		t.Error("Open with an invalid bucket name succeeded")
	}
}

func TestJetStreamExpiry(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{JetStream: true})
	s := open(t, fabrictest.Connect(t, h.ClientURL()), Config{MaxAge: time.Second})
	ctx := ctxT(t)
	id := wire.NewTaskID()
	if err := s.Create(ctx, sampleRecord(id)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutResult(ctx, sampleResult(id)); err != nil {
		t.Fatal(err)
	}
	fabrictest.Eventually(t, 10*time.Second, "record and result expired", func() bool {
		_, _, err := s.Get(ctx, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get: %v", err)
		}
		return err != nil
	})
	if err := s.Update(ctx, sampleRecord(id)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update(expired) = %v, want ErrNotFound", err)
	}
	if err := s.Create(ctx, sampleRecord(id)); err != nil {
		t.Errorf("Create(expired id) = %v, want nil", err)
	}
}
