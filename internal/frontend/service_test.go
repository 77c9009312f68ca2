package frontend

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/runner"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
)

func submit(t *testing.T, s *Service, command string) *Status {
	t.Helper()
	st, err := s.Submit(context.Background(), Request{Task: wire.Task{Command: command}})
	if err != nil {
		t.Fatalf("Submit(%q): %v", command, err)
	}
	return st
}

func TestSubmitWaitRecord(t *testing.T) {
	e := newEnv(t, "n1")
	s := e.service(t, Config{})
	st := submit(t, s, "echo hello; exit 2")
	if st.Record.Node != "n1" || st.Record.Reason == "" || st.Record.Instance == "" {
		t.Fatalf("placed record = %+v", st.Record)
	}
	st, err := s.Wait(context.Background(), st.Record.ID, nil, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != tasks.StateFailed || st.Result.ExitCode != 2 || st.Result.Stdout != "hello\n" {
		t.Fatalf("status = %+v, result %+v", st, st.Result)
	}
	// The store agrees.
	rec, res, err := s.Store().Get(context.Background(), st.Record.ID)
	if err != nil || rec.State != tasks.StateFailed || res.Stdout != "hello\n" || rec.Finished.IsZero() {
		t.Fatalf("stored %+v %+v %v", rec, res, err)
	}
}

func TestWaitBudgetThenResult(t *testing.T) {
	e := newEnv(t, "n1")
	s := e.service(t, Config{})
	st := submit(t, s, "echo first; sleep 1; echo second")
	st, _ = s.Wait(context.Background(), st.Record.ID, regexp.MustCompile("^first$"), 10*time.Second)
	if !st.Matched || !st.Running() || !strings.Contains(st.SoFar.Stdout, "first") {
		t.Fatalf("after until: %+v (so far %+v)", st, st.SoFar)
	}
	st, _ = s.Wait(context.Background(), st.Record.ID, nil, 50*time.Millisecond)
	if !st.Running() || st.Matched {
		t.Fatalf("within budget: %+v", st)
	}
	st, _ = s.Wait(context.Background(), st.Record.ID, nil, 10*time.Second)
	if st.State != tasks.StateDone || st.Result.Stdout != "first\nsecond\n" {
		t.Fatalf("final: %+v", st)
	}
}

// TestUntilMatchesOnlyLinesPrinted: a pattern that matches an empty line
// waits for an empty line; the end of the last line printed, or no output
// at all, is not one.
func TestUntilMatchesOnlyLinesPrinted(t *testing.T) {
	e := newEnv(t, "n1")
	s := e.service(t, Config{})
	st := submit(t, s, "echo first; sleep 300")
	defer s.Cancel(context.Background(), st.Record.ID, "test over")
	st, _ = s.Wait(context.Background(), st.Record.ID, regexp.MustCompile("^first$"), 10*time.Second)
	if !st.Matched {
		t.Fatalf("first line: %+v", st)
	}
	st, _ = s.Wait(context.Background(), st.Record.ID, regexp.MustCompile("^$"), 100*time.Millisecond)
	if st.Matched || !st.Running() {
		t.Fatalf("^$ after %q matched: %+v", st.SoFar.Stdout, st)
	}
}

func TestCancelRunning(t *testing.T) {
	e := newEnv(t, "n1")
	s := e.service(t, Config{})
	st := submit(t, s, "echo $$; sleep 300")
	st, _ = s.Wait(context.Background(), st.Record.ID, regexp.MustCompile(`^\d+$`), 10*time.Second)
	var pid int
	fmt.Sscan(st.SoFar.Stdout, &pid)
	if err := s.Cancel(context.Background(), st.Record.ID, "test"); err != nil {
		t.Fatal(err)
	}
	st, _ = s.Status(context.Background(), st.Record.ID)
	if st.State != tasks.StateCancelled {
		t.Fatalf("state = %s", st.State)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runner.Alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("shell %d alive after cancel", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Cancel(context.Background(), st.Record.ID, ""); err == nil {
		t.Fatal("second cancel of an ended task succeeded")
	}
}

func TestOutputSlices(t *testing.T) {
	e := newEnv(t, "n1")
	s := e.service(t, Config{})
	st := submit(t, s, "seq 1 100; echo oops >&2")
	s.Wait(context.Background(), st.Record.ID, nil, 10*time.Second)
	id := st.Record.ID
	tests := []struct {
		q    Query
		want string
	}{
		{Query{Head: 2}, "1\n2\n"},
		{Query{Tail: 2}, "99\n100\n"},
		{Query{From: 10, To: 12}, "10\n11\n12\n"},
		{Query{Grep: regexp.MustCompile("^5")}, "5: 5\n50: 50\n51: 51\n52: 52\n53: 53\n54: 54\n55: 55\n56: 56\n57: 57\n58: 58\n59: 59\n"},
		{Query{Stream: "stderr"}, "oops\n"},
	}
	for _, tt := range tests {
		sl, err := s.Output(context.Background(), id, tt.q)
		if err != nil || sl.Text != tt.want {
			t.Errorf("Output(%+v) = %q, %v; want %q", tt.q, sl.Text, err, tt.want)
		}
	}
	if _, err := s.Output(context.Background(), id, Query{Head: 1, Tail: 1}); err == nil {
		t.Error("head and tail together accepted")
	}
	if _, err := s.Output(context.Background(), "nope", Query{}); !errors.Is(err, ErrUnknownTask) {
		t.Errorf("unknown task err = %v", err)
	}
}

func TestNoMatchIsRecordedFailed(t *testing.T) {
	e := newEnv(t, "n1")
	s := e.service(t, Config{})
	st, err := s.Submit(context.Background(), cmd("nvidia-smi"))
	if err == nil || ErrorKind(err) != wire.ErrNoMatch {
		t.Fatalf("err = %v", err)
	}
	st2, _ := s.Status(context.Background(), st.Record.ID)
	if st2.State != tasks.StateFailed || st2.Record.Error != wire.ErrNoMatch {
		t.Fatalf("record = %+v", st2.Record)
	}
}

// TestAnotherFrontEndReadsIt: a second front end, with its own service,
// reads the first one's task, result included, from the records.
func TestAnotherFrontEndReadsIt(t *testing.T) {
	e := newEnv(t, "n1")
	a, b := e.service(t, Config{}), e.service(t, Config{})
	st := submit(t, a, "echo shared")
	a.Wait(context.Background(), st.Record.ID, nil, 10*time.Second)
	got, err := b.Wait(context.Background(), st.Record.ID, nil, 10*time.Second)
	if err != nil || got.Live || got.State != tasks.StateDone || got.Result.Stdout != "shared\n" {
		t.Fatalf("from b: %+v %v", got, err)
	}
}

// TestResultRecordedAfterFrontEndLeaves: the submitting front end stops
// following a running task; the node finishes it and records the result,
// which a new front end reads.
func TestResultRecordedAfterFrontEndLeaves(t *testing.T) {
	e := newEnv(t, "n1")
	a := e.service(t, Config{})
	st := submit(t, a, "sleep 0.5; echo survived")
	a.Close()
	b := e.service(t, Config{})
	got, err := b.Wait(context.Background(), st.Record.ID, nil, 20*time.Second)
	if err != nil || got.State != tasks.StateDone || got.Result.Stdout != "survived\n" {
		t.Fatalf("from the new front end: %+v %v", got, err)
	}
}

func TestBatchInOrderUsesAllNodes(t *testing.T) {
	e := newEnv(t, "a", "b", "c")
	s := e.service(t, Config{})
	reqs := make([]Request, 20)
	for i := range reqs {
		reqs[i] = cmd(fmt.Sprintf("sleep 0.2; echo %d", i))
	}
	sts, err := s.Batch(context.Background(), reqs, BatchOptions{Budget: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for i, st := range sts {
		if st.State != tasks.StateDone || st.Result.Stdout != fmt.Sprintf("%d\n", i) {
			t.Fatalf("item %d: %+v %+v", i, st, st.Result)
		}
		used[st.Record.Node] = true
	}
	if len(used) != 3 {
		t.Fatalf("nodes used: %v", used)
	}
}

func TestBatchFailFast(t *testing.T) {
	e := newEnv(t, "a")
	s := e.service(t, Config{})
	reqs := []Request{cmd("true"), cmd("exit 1"), cmd("echo never"), cmd("echo never")}
	sts, err := s.Batch(context.Background(), reqs, BatchOptions{MaxParallel: 1, FailFast: true, Budget: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want := []tasks.State{tasks.StateDone, tasks.StateFailed, tasks.StateFailed, tasks.StateFailed}
	for i, st := range sts {
		if st.State != want[i] {
			t.Fatalf("item %d: %s (%s), want %s", i, st.State, st.Record.Message, want[i])
		}
	}
	if !strings.Contains(sts[2].Record.Message, "fail_fast") || sts[2].Result != nil {
		t.Fatalf("item 2 = %+v", sts[2].Record)
	}
}

func TestBatchBudgetReturnsRunning(t *testing.T) {
	e := newEnv(t, "a")
	s := e.service(t, Config{})
	reqs := []Request{cmd("true"), cmd("sleep 2")}
	sts, err := s.Batch(context.Background(), reqs, BatchOptions{Budget: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if sts[0].State != tasks.StateDone || sts[1].State != tasks.StateRunning {
		t.Fatalf("states %s %s", sts[0].State, sts[1].State)
	}
	st, _ := s.Wait(context.Background(), sts[1].Record.ID, nil, 10*time.Second)
	if st.State != tasks.StateDone {
		t.Fatalf("later: %s", st.State)
	}
}

func TestRunForegroundStreamsAndCancelsOnInterrupt(t *testing.T) {
	e := newEnv(t, "n1")
	s := e.service(t, Config{})
	got := map[wire.Stream]string{} // the two streams are not ordered between them
	st, err := s.Run(context.Background(), cmd("echo a; echo b >&2"), func(st wire.Stream, p []byte) {
		got[st] += string(p)
	})
	if err != nil || st.State != tasks.StateDone || got[wire.Stdout] != "a\n" || got[wire.Stderr] != "b\n" {
		t.Fatalf("run: %+v %v, streamed %q", st, err, got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err = s.Run(ctx, cmd("echo go; sleep 300"), func(wire.Stream, []byte) { cancel() })
	if err != nil || st.State != tasks.StateCancelled {
		t.Fatalf("interrupted run: %+v %v", st, err)
	}
}

// TestResultStoredOnce: the result of a task a worker ran is written to the
// records once, by the worker (it publishes it to the task's ResultTo); the
// front end that followed it does not write it again, yet as soon as it
// says the task ended, another front end reads the result there.
func TestResultStoredOnce(t *testing.T) {
	e := newEnv(t, "n1")
	s := e.service(t, Config{})
	watch := e.connect(t)
	writes, err := watch.SubscribeSync("$KV.fabric-tasks.res.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Flush(); err != nil {
		t.Fatal(err)
	}
	st, err := s.Run(context.Background(), cmd("echo once"), nil)
	if err != nil || st.Result.Stdout != "once\n" {
		t.Fatalf("run: %+v, %v", st, err)
	}
	other := e.service(t, Config{})
	got, err := other.Status(context.Background(), st.Record.ID)
	if err != nil || got.Live || got.Result == nil || got.Result.Stdout != "once\n" || got.State != tasks.StateDone {
		t.Fatalf("from another front end: %+v, %v", got, err)
	}
	// Both front ends' connections and the node's have made a round trip:
	// every write to the records has reached the watcher.
	for _, nc := range []*nats.Conn{e.conns["n1"], watch} {
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if n, _, _ := writes.Pending(); n != 1 {
		t.Fatalf("the result was written %d times, want once", n)
	}
}

// resultNowhere is a record store whose result subject no store listens
// on: what a worker publishes there is lost, as when a node dies between
// answering the front end and recording its result.
type resultNowhere struct{ tasks.Store }

func (resultNowhere) ResultSubject(id string) string { return "nowhere." + id }

// TestResultRecordedWhenTheNodesRecordIsLost: when the node's own record of
// a result never reaches the store, the front end that has the result
// records it (after a grace for the node's to arrive).
func TestResultRecordedWhenTheNodesRecordIsLost(t *testing.T) {
	h := startHub(t, false)
	h.addNode(t, worker.Config{Name: "n1", OS: "linux", Arch: "amd64"})
	store := tasks.NewMemory(tasks.Config{})
	t.Cleanup(func() { store.Close() })
	s := h.service(t, Config{Store: resultNowhere{store}})
	st, err := s.Run(context.Background(), cmd("echo kept"), nil)
	if err != nil || st.Result.Stdout != "kept\n" {
		t.Fatalf("run: %+v, %v", st, err)
	}
	if _, res, err := store.Get(context.Background(), st.Record.ID); err != nil || res == nil || res.Stdout != "kept\n" {
		t.Fatalf("stored result %+v, %v", res, err)
	}
}
