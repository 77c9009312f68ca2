package frontend

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/locks"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
)

// waitEnd waits for task id to end.
func waitEnd(t *testing.T, s *Service, id string) *Status {
	t.Helper()
	st, err := s.Wait(context.Background(), id, nil, 60*time.Second)
	if err != nil || st.Running() {
		t.Fatalf("task %s: %+v, %v", id, st, err)
	}
	return st
}

// lines reads a file the commands append to ("" when it does not exist).
func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// TestLockWaitIsQueuedWithItsPlace: a task waiting for its lock is queued
// with the reason and its place in line, as its own front end and another
// one (from the lock itself) see it; once it holds the lock it runs.
func TestLockWaitIsQueuedWithItsPlace(t *testing.T) {
	e := newEnv(t, "n1")
	s := e.service(t, Config{})
	other := e.service(t, Config{})
	st, err := locks.Open(context.Background(), e.connect(t), locks.Config{})
	if err != nil {
		t.Fatal(err)
	}
	holder, err := st.Acquire(context.Background(), locks.Spec{Name: "build", Max: 1}, "outside", locks.Info{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := cmd("echo built")
	req.Locks = []string{"build"}
	sub, err := s.Submit(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	id := sub.Record.ID
	if sub.State != tasks.StateQueued || sub.Record.Node != "n1" {
		t.Fatalf("submitted: %s on %q, want queued on n1", sub.State, sub.Record.Node)
	}
	for _, fe := range []*Service{s, other} {
		fabrictest.Eventually(t, 10*time.Second, "queued with its place in line", func() bool {
			st, err := fe.Status(context.Background(), id)
			return err == nil && st.State == tasks.StateQueued && st.Record.Waiting == "waiting for lock build (1 ahead)"
		})
	}
	if err := holder.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	end := waitEnd(t, s, id)
	if end.State != tasks.StateDone || end.Result.Stdout != "built\n" || end.Record.Waiting != "" || end.Record.Started.IsZero() {
		t.Fatalf("end: %+v", end)
	}
	rec, _, err := other.Store().Get(context.Background(), id)
	if err != nil || len(rec.Locks) != 1 || rec.Locks[0] != "build" {
		t.Fatalf("stored record: %+v, %v", rec, err)
	}
}

// TestRetryOnNodeLostRunsElsewhere: a task whose node is lost runs once
// more, on the other node; the record keeps the lost attempt.
func TestRetryOnNodeLostRunsElsewhere(t *testing.T) {
	e := newEnv(t, "n1", "n2")
	s := e.service(t, Config{})
	f := filepath.Join(t.TempDir(), "runs")
	req := cmd(fmt.Sprintf(`echo run >> %[1]s; [ "$(wc -l < %[1]s)" -ge 2 ] || sleep 60; echo done`, f))
	req.Retry = Retry{Times: 1, On: []wire.ErrorKind{wire.ErrNodeLost}}
	sub, err := s.Submit(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	first := sub.Record.Node
	fabrictest.Eventually(t, 10*time.Second, "the first run started", func() bool { return len(lines(t, f)) == 1 })
	e.conns[first].Close() // the node vanishes: no goodbye, no result
	end := waitEnd(t, s, sub.Record.ID)
	if end.State != tasks.StateDone || end.Record.Node == first || end.Record.Node == "" {
		t.Fatalf("after the retry: %s on %s (first %s): %+v", end.State, end.Record.Node, first, end.Result)
	}
	if a := end.Record.Attempts; len(a) != 1 || a[0].Node != first || a[0].Error != wire.ErrNodeLost {
		t.Fatalf("attempts = %+v, want the lost one on %s", a, first)
	}
	if n := len(lines(t, f)); n != 2 {
		t.Fatalf("ran %d times, want 2", n)
	}
}

// TestNeverRetriedOnExitCodesOrTimeouts: a command that ran and failed, or
// timed out, runs once whatever the retry policy.
func TestNeverRetriedOnExitCodesOrTimeouts(t *testing.T) {
	e := newEnv(t, "n1", "n2")
	s := e.service(t, Config{})
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		command string
		timeout time.Duration
		kind    wire.ErrorKind
	}{
		{"exit code", "echo x >> %s; exit 3", 0, wire.ErrNone},
		{"timeout", "echo x >> %s; sleep 30", 500 * time.Millisecond, wire.ErrTimeout},
		{"idle timeout", "echo x >> %s; sleep 30", 0, wire.ErrIdleTimeout},
	} {
		f := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
		req := cmd(fmt.Sprintf(tc.command, f))
		req.Timeout = wire.Duration(tc.timeout)
		if tc.kind == wire.ErrIdleTimeout {
			req.IdleTimeout = wire.Duration(300 * time.Millisecond)
		}
		req.Retry = Retry{Times: 3, On: []wire.ErrorKind{wire.ErrNodeLost, wire.ErrBusy, wire.ErrDraining}}
		st, err := s.Run(context.Background(), req, nil)
		if err != nil || st.Result.Error != tc.kind || len(st.Record.Attempts) != 0 {
			t.Fatalf("%s: %+v, %v", tc.name, st, err)
		}
		if n := len(lines(t, f)); n != 1 {
			t.Fatalf("%s: ran %d times, want once", tc.name, n)
		}
	}
	if _, err := ParseRetryOn([]string{"node_lost", "timeout"}); err == nil || !strings.Contains(err.Error(), "never on an exit code or a timeout") {
		t.Fatalf("ParseRetryOn(timeout) = %v", err)
	}
	if _, err := s.Run(context.Background(), Request{Task: wire.Task{Command: "true"}, Retry: Retry{Times: 2}}, nil); err == nil {
		t.Fatal("retries with no kind accepted")
	}
}

// TestIdempotencyKey: a second submission with a task's key, while it
// runs, after it ended, and two at once from two front ends, attaches to
// the one task: one execution.
func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t, "n1")
	a, b := e.service(t, Config{}), e.service(t, Config{})
	dir := t.TempDir()
	f, gate := filepath.Join(dir, "runs"), filepath.Join(dir, "gate")
	keyed := func(key, command string) Request {
		r := cmd(command)
		r.Key = key
		return r
	}
	slow := fmt.Sprintf("echo run >> %s; while [ ! -e %s ]; do sleep 0.05; done; echo result", f, gate)
	first, err := a.Submit(context.Background(), keyed("deploy-42", slow))
	if err != nil {
		t.Fatal(err)
	}
	while, err := b.Submit(context.Background(), keyed("deploy-42", slow))
	if err != nil || !while.Attached || while.Record.ID != first.Record.ID {
		t.Fatalf("same key while it runs: %+v, %v; want attached to %s", while, err, first.Record.ID)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitEnd(t, a, first.Record.ID)
	after, err := b.Run(context.Background(), keyed("deploy-42", slow), nil)
	if err != nil || !after.Attached || after.Record.ID != first.Record.ID || after.Result == nil || after.Result.Stdout != "result\n" {
		t.Fatalf("same key after it ended: %+v, %v", after, err)
	}
	if got := after.Record.Key; got != "deploy-42" {
		t.Fatalf("record key = %q", got)
	}
	if n := len(lines(t, f)); n != 1 {
		t.Fatalf("ran %d times, want once", n)
	}

	g := filepath.Join(dir, "concurrent")
	var wg sync.WaitGroup
	ids := make([]string, 2)
	for i, s := range []*Service{a, b} {
		wg.Go(func() {
			st, err := s.Run(context.Background(), keyed("once", fmt.Sprintf("echo run >> %s; sleep 0.2", g)), nil)
			if err != nil || st.State != tasks.StateDone {
				t.Errorf("front end %d: %+v, %v", i, st, err)
				return
			}
			ids[i] = st.Record.ID
		})
	}
	wg.Wait()
	if ids[0] != ids[1] || len(lines(t, g)) != 1 {
		t.Fatalf("two at once: ids %v, ran %d times; want one task, once", ids, len(lines(t, g)))
	}
}

// TestStreamedInputThroughTheService: a run's input streams to its node
// whole, then end of file.
func TestStreamedInputThroughTheService(t *testing.T) {
	e := newEnv(t, "n1")
	s := e.service(t, Config{})
	data := make([]byte, 8<<20+7)
	rand.Read(data)
	req := cmd("sha256sum; echo EOF")
	req.StdinStream, req.Input = true, bytes.NewReader(data)
	st, err := s.Run(context.Background(), req, nil)
	if want := fmt.Sprintf("%x  -\nEOF\n", sha256.Sum256(data)); err != nil || st.Result.Stdout != want {
		t.Fatalf("run: %+v, %v; want %q", st.Result, err, want)
	}
	big := cmd("cat")
	big.Stdin = make([]byte, MaxInlineStdin+1)
	if _, err := s.Submit(context.Background(), big); err == nil || !strings.Contains(err.Error(), "fabric run -i") {
		t.Fatalf("inline input over the limit: %v", err)
	}
}
