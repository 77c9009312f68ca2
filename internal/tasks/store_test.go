package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/wire"
)

func TestRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.new(t, Config{})
		ctx := ctxT(t)
		id := wire.NewTaskID()

		rec := sampleRecord(id)
		if err := s.Create(ctx, rec); err != nil {
			t.Fatalf("Create: %v", err)
		}
		if rec.Submitted.IsZero() || rec.State != StateQueued {
			t.Errorf("Create left Submitted %v, State %q; want them set", rec.Submitted, rec.State)
		}
		got, res, err := s.Get(ctx, id)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if res != nil {
			t.Errorf("Get result = %+v before any result, want nil", res)
		}
		assertRecord(t, got, rec)

		rec.State, rec.Node, rec.Started = StateRunning, "n1", time.Now()
		if err := s.Update(ctx, rec); err != nil {
			t.Fatalf("Update: %v", err)
		}
		got, _, err = s.Get(ctx, id)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		assertRecord(t, got, rec)

		want := sampleResult(id)
		if err := s.PutResult(ctx, want); err != nil {
			t.Fatalf("PutResult: %v", err)
		}
		got, res, err = s.Get(ctx, id)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		assertRecord(t, got, rec) // the result does not touch the record
		assertResult(t, res, want)
		if st := StateOf(got, res); st != StateDone {
			t.Errorf("StateOf = %q, want %q", st, StateDone)
		}
	})
}

func assertRecord(t *testing.T, got, want *Record) {
	t.Helper()
	if !got.Submitted.Equal(want.Submitted) || !got.Started.Equal(want.Started) || !got.Finished.Equal(want.Finished) {
		t.Errorf("times = %v %v %v, want %v %v %v", got.Submitted, got.Started, got.Finished, want.Submitted, want.Started, want.Finished)
	}
	g, w := *got, *want
	g.Submitted, g.Started, g.Finished = time.Time{}, time.Time{}, time.Time{}
	w.Submitted, w.Started, w.Finished = time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("record = %+v, want %+v", g, w)
	}
}

func assertResult(t *testing.T, got, want *wire.Result) {
	t.Helper()
	if got == nil {
		t.Fatal("result = nil, want one")
	}
	if !got.Started.Equal(want.Started) {
		t.Errorf("result Started = %v, want %v", got.Started, want.Started)
	}
	g, w := *got, *want
	g.Started, w.Started = time.Time{}, time.Time{}
	g.V, w.V = 0, 0
	if !reflect.DeepEqual(g, w) {
		t.Errorf("result = %+v, want %+v", g, w)
	}
}

func TestErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.new(t, Config{})
		ctx := ctxT(t)
		id := wire.NewTaskID()
		if err := s.Create(ctx, sampleRecord(id)); err != nil {
			t.Fatalf("Create: %v", err)
		}
		if err := s.Create(ctx, sampleRecord(id)); !errors.Is(err, ErrExists) {
			t.Errorf("Create twice = %v, want ErrExists", err)
		}
		missing := wire.NewTaskID()
		if _, _, err := s.Get(ctx, missing); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(missing) = %v, want ErrNotFound", err)
		}
		if err := s.Update(ctx, sampleRecord(missing)); !errors.Is(err, ErrNotFound) {
			t.Errorf("Update(missing) = %v, want ErrNotFound", err)
		}
		if _, _, err := s.Get(ctx, missing); !errors.Is(err, ErrNotFound) {
			t.Errorf("Update(missing) created it: Get = %v, want ErrNotFound", err)
		}

		for _, bad := range []string{"", "a.b", "a*", ">", "a b", "é", "../x", strings.Repeat("x", 65)} {
			checks := map[string]error{
				"Create":    s.Create(ctx, sampleRecord(bad)),
				"Update":    s.Update(ctx, sampleRecord(bad)),
				"PutResult": s.PutResult(ctx, sampleResult(bad)),
			}
			_, _, checks["Get"] = s.Get(ctx, bad)
			_, checks["WaitResult"] = s.WaitResult(ctx, bad)
			for op, err := range checks {
				if !errors.Is(err, ErrInvalidID) {
					t.Errorf("%s(%q) = %v, want ErrInvalidID", op, bad, err)
				}
			}
			if sub := s.ResultSubject(bad); sub != "" {
				t.Errorf("ResultSubject(%q) = %q, want \"\"", bad, sub)
			}
		}
		// Ids other than fabric's own are fine if they are valid keys.
		for _, good := range []string{"a", "A-b_9", strings.Repeat("x", 64)} {
			if err := s.Create(ctx, sampleRecord(good)); err != nil {
				t.Errorf("Create(%q) = %v, want nil", good, err)
			}
		}
	})
}

func TestRecordTooLarge(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.new(t, Config{MaxValueSize: 64 << 10})
		rec := sampleRecord(wire.NewTaskID())
		rec.Command = strings.Repeat("x", 64<<10)
		if err := s.Create(ctxT(t), rec); !errors.Is(err, ErrTooLarge) {
			t.Errorf("Create(huge) = %v, want ErrTooLarge", err)
		}
	})
}

func TestResultWithoutRecord(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.new(t, Config{})
		ctx := ctxT(t)
		id := wire.NewTaskID()
		want := sampleResult(id)
		want.ExitCode = 2
		if err := s.PutResult(ctx, want); err != nil {
			t.Fatalf("PutResult: %v", err)
		}
		rec, res, err := s.Get(ctx, id)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		assertResult(t, res, want)
		if rec.ID != id || rec.Node != "n1" || rec.State != StateFailed || !rec.Finished.Equal(want.Started.Add(want.Duration.D())) {
			t.Errorf("record from result = %+v", rec)
		}
	})
}

func TestWaitResultWakesOnPutResult(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.new(t, Config{})
		ctx := ctxT(t)
		id := wire.NewTaskID()
		got := make(chan *wire.Result, 1)
		errc := make(chan error, 1)
		go func() {
			res, err := s.WaitResult(ctx, id)
			got <- res
			errc <- err
		}()
		waitPending(t, s, id)
		want := sampleResult(id)
		if err := s.PutResult(ctx, want); err != nil {
			t.Fatalf("PutResult: %v", err)
		}
		res := <-got
		if err := <-errc; err != nil {
			t.Fatalf("WaitResult: %v", err)
		}
		assertResult(t, res, want)

		// A result that is there already is returned at once.
		res, err := s.WaitResult(ctx, id)
		if err != nil {
			t.Fatalf("WaitResult after the fact: %v", err)
		}
		assertResult(t, res, want)
	})
}

func TestWaitResultEndsWithContext(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.new(t, Config{})
		ctx, cancel := context.WithCancel(ctxT(t))
		id := wire.NewTaskID()
		errc := make(chan error, 1)
		go func() {
			_, err := s.WaitResult(ctx, id)
			errc <- err
		}()
		waitPending(t, s, id)
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("WaitResult after cancel = %v, want context.Canceled", err)
		}
		if _, err := s.WaitResult(ctx, id); !errors.Is(err, context.Canceled) {
			t.Errorf("WaitResult with an ended ctx = %v, want context.Canceled", err)
		}
		if _, ok := s.(*kvStore); ok {
			// The watch is cleaned up: its consumer goes. Stop deletes
			// it; should an ordered-consumer reset under load have made a
			// new one meanwhile, the server reaps that unwatched ephemeral
			// after its 5 s inactivity threshold, hence the longer wait.
			fabrictest.Eventually(t, 15*time.Second, "watch consumer removed", func() bool { return !pending(t, s, id) })
		}
	})
}

func TestWaitResultEndsWithClose(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.new(t, Config{})
		id := wire.NewTaskID()
		errc := make(chan error, 1)
		go func() {
			_, err := s.WaitResult(ctxT(t), id)
			errc <- err
		}()
		waitPending(t, s, id)
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close twice: %v", err)
		}
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Errorf("WaitResult after Close = %v, want ErrClosed", err)
		}
		ctx := ctxT(t)
		checks := map[string]error{
			"Create":    s.Create(ctx, sampleRecord(id)),
			"Update":    s.Update(ctx, sampleRecord(id)),
			"PutResult": s.PutResult(ctx, sampleResult(id)),
		}
		_, _, checks["Get"] = s.Get(ctx, id)
		_, checks["WaitResult"] = s.WaitResult(ctx, id)
		_, checks["List"] = s.List(ctx, 0)
		for op, err := range checks {
			if !errors.Is(err, ErrClosed) {
				t.Errorf("%s after Close = %v, want ErrClosed", op, err)
			}
		}
	})
}

func TestList(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.new(t, Config{})
		ctx := ctxT(t)
		if recs, err := s.List(ctx, 0); err != nil || len(recs) != 0 {
			t.Fatalf("List(empty) = %v, %v; want none", recs, err)
		}
		base := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
		var ids []string
		for i := range 4 {
			rec := sampleRecord(wire.NewTaskID())
			rec.Submitted = base.Add(time.Duration(i) * time.Minute)
			if err := s.Create(ctx, rec); err != nil {
				t.Fatalf("Create: %v", err)
			}
			ids = append(ids, rec.ID)
		}
		// An update does not change the order: submission time does.
		first := sampleRecord(ids[0])
		first.Submitted, first.State = base, StateRunning
		if err := s.Update(ctx, first); err != nil {
			t.Fatalf("Update: %v", err)
		}
		recs, err := s.List(ctx, 3)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.ID)
		}
		if want := []string{ids[3], ids[2], ids[1]}; !reflect.DeepEqual(got, want) {
			t.Errorf("List(3) = %v, want %v", got, want)
		}
		if recs, _ := s.List(ctx, 0); len(recs) != 4 {
			t.Errorf("List(0) has %d records, want 4", len(recs))
		}
	})
}

func TestConcurrentUse(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.new(t, Config{})
		ctx := ctxT(t)
		const n = 8
		errc := make(chan error, 3*n)
		for range n {
			id := wire.NewTaskID()
			go func() {
				rec := sampleRecord(id)
				if err := s.Create(ctx, rec); err != nil {
					errc <- err
					return
				}
				got := make(chan error, 1)
				go func() {
					_, err := s.WaitResult(ctx, id)
					got <- err
				}()
				rec.State = StateRunning
				if err := s.Update(ctx, rec); err != nil {
					errc <- err
					return
				}
				errc <- s.PutResult(ctx, sampleResult(id))
				errc <- <-got
				_, _, err := s.Get(ctx, id)
				errc <- err
			}()
		}
		for range 3 * n {
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestRecordJSON(t *testing.T) {
	rec := sampleRecord("abc")
	rec.Submitted = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rec.State = StateQueued
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"abc","command":"make test","cwd":"/src","requires":{"os":"linux","arch":"amd64","capabilities":["docker"]},` +
		`"via":"nats","reason":"heavy command: least-loaded linux node","state":"queued","submitted":"2026-01-02T03:04:05Z"}`
	if string(b) != want {
		t.Errorf("json = %s\nwant   %s", b, want)
	}
}

// TestPutResultTrimsToMaxPayload stores 20 MiB of output through a hub that
// takes 256 KiB messages.
func TestPutResultTrimsToMaxPayload(t *testing.T) {
	const maxPayload = 256 << 10
	h := fabrictest.StartHub(t, hub.Config{JetStream: true, StoreDir: t.TempDir(), MaxPayload: maxPayload})
	nc := fabrictest.Connect(t, h.ClientURL())
	if nc.MaxPayload() != maxPayload {
		t.Fatalf("MaxPayload = %d, want %d", nc.MaxPayload(), maxPayload)
	}
	stores := map[string]Store{
		BackendJetStream: open(t, nc, Config{}),
		BackendMemory:    NewMemory(Config{MaxValueSize: maxPayload}),
	}
	const size = 20 << 20
	out := "HEAD-" + strings.Repeat("x", size-10) + "-TAIL"
	for name, s := range stores {
		t.Run(name, func(t *testing.T) {
			defer s.Close()
			ctx := ctxT(t)
			id := wire.NewTaskID()
			if err := s.PutResult(ctx, &wire.Result{ID: id, Stdout: out, StdoutBytes: size, Stderr: "fine"}); err != nil {
				t.Fatalf("PutResult: %v", err)
			}
			_, res, err := s.Get(ctx, id)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !res.StdoutTruncated || res.StdoutBytes != size || res.StderrTruncated || res.Stderr != "fine" {
				t.Errorf("flags: stdout truncated %v bytes %d, stderr truncated %v %q", res.StdoutTruncated, res.StdoutBytes, res.StderrTruncated, res.Stderr)
			}
			if !strings.HasPrefix(res.Stdout, "HEAD-xxx") || !strings.HasSuffix(res.Stdout, "xxx-TAIL") || !strings.Contains(res.Stdout, "MiB omitted") {
				t.Errorf("stdout lost head, tail or marker")
			}
			if len(res.Stdout) < maxPayload/2 {
				t.Errorf("kept %d bytes of stdout, want most of the %d available", len(res.Stdout), maxPayload)
			}
			if kv, ok := s.(*kvStore); ok {
				e, err := kv.kv.Get(ctx, resultKey(id))
				if err != nil {
					t.Fatal(err)
				}
				if len(e.Value()) > maxPayload-Headroom {
					t.Errorf("stored value is %d bytes, want <= %d", len(e.Value()), maxPayload-Headroom)
				}
			}
		})
	}
}
