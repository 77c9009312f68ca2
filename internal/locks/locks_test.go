package locks_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/locks"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want locks.Spec
		bad  bool
	}{
		{in: "build", want: locks.Spec{"build", 1}},
		{in: "build:2", want: locks.Spec{"build", 2}},
		{in: " gpu-box_1:10 ", want: locks.Spec{"gpu-box_1", 10}},
		{in: "", bad: true},
		{in: ":2", bad: true},
		{in: "build:0", bad: true},
		{in: "build:-1", bad: true},
		{in: "build:two", bad: true},
		{in: "a.b", bad: true},
		{in: "a*", bad: true},
		{in: "a b", bad: true},
		{in: string(make([]byte, 65)), bad: true},
	} {
		got, err := locks.ParseSpec(tc.in)
		if tc.bad {
			if !errors.Is(err, locks.ErrBadSpec) {
				t.Errorf("ParseSpec(%q) = %v, %v; want ErrBadSpec", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSpec(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if back, _ := locks.ParseSpec(got.String()); back != got {
			t.Errorf("ParseSpec(%q.String()) = %v", got, back)
		}
	}
}

func TestOrderHoldersArePrefixWithinEveryN(t *testing.T) {
	for _, tc := range []struct {
		name  string
		maxes []int // in ticket order
		held  int
	}{
		{"one holder", []int{1, 1, 1}, 1},
		{"two of three", []int{2, 2, 2}, 2},
		{"fewer than N", []int{3, 3}, 2},
		{"a smaller N behind a holder waits", []int{3, 1, 3}, 1},
		{"a smaller N ahead limits those behind", []int{1, 3, 3}, 1},
		{"the smallest so far counts", []int{4, 4, 2, 4}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var es []locks.Entry
			for i, m := range tc.maxes {
				// Shuffled tickets: order sorts them.
				es = append(es, locks.Entry{Owner: fmt.Sprint("o", i), Max: m, Ticket: uint64(10 + i)})
			}
			slices.Reverse(es)
			q := locks.Order("x", es)
			if got := len(q.Holders()); got != tc.held {
				t.Fatalf("holders = %d, want %d (%+v)", got, tc.held, q.Entries)
			}
			for i, e := range q.Entries {
				if e.Owner != fmt.Sprint("o", i) || e.Ahead != i {
					t.Fatalf("entry %d = %s ahead %d", i, e.Owner, e.Ahead)
				}
				if e.Holding && len(q.Holders()) > e.Max {
					t.Fatalf("%s holds with %d holders over its N %d", e.Owner, len(q.Holders()), e.Max)
				}
			}
		})
	}
}

// TestConcurrentAcquirersNeverExceedN: acquirers on separate connections,
// all at once, never hold the lock more than N at a time, and every one of
// them gets it.
func TestConcurrentAcquirersNeverExceedN(t *testing.T) {
	h := startHub(t)
	const n, conns, perConn, rounds = 2, 4, 3, 3
	spec := locks.Spec{Name: "build", Max: n}
	var holding, most atomic.Int32
	var wg sync.WaitGroup
	var got atomic.Int32
	for c := range conns {
		s := openStore(t, h)
		for a := range perConn {
			wg.Go(func() {
				for r := range rounds {
					l, err := s.Acquire(ctxT(t), spec, fmt.Sprintf("c%d-a%d-r%d", c, a, r), locks.Info{}, nil)
					if err != nil {
						t.Error(err)
						return
					}
					now := holding.Add(1)
					for {
						m := most.Load()
						if now <= m || most.CompareAndSwap(m, now) {
							break
						}
					}
					time.Sleep(5 * time.Millisecond) // hold it a moment: let others try
					holding.Add(-1)
					got.Add(1)
					release(t, l)
				}
			})
		}
	}
	wg.Wait()
	if m := most.Load(); m > n {
		t.Fatalf("%d held lock %s at once, N is %d", m, spec.Name, n)
	}
	if m := most.Load(); m < n {
		t.Logf("note: at most %d held it at once (N %d): the acquirers did not overlap", m, n)
	}
	if g := got.Load(); g != conns*perConn*rounds {
		t.Fatalf("%d acquisitions, want %d", g, conns*perConn*rounds)
	}
	q, err := openStore(t, h).Get(ctxT(t), spec.Name)
	if err != nil || len(q.Entries) != 0 {
		t.Fatalf("after every release: %+v, %v; want no entries", q, err)
	}
}

// TestFIFO: waiters get the lock in the order they asked for it, and each
// is told how many are ahead of it.
func TestFIFO(t *testing.T) {
	h := startHub(t)
	s := openStore(t, h)
	spec := locks.Spec{Name: "deploy", Max: 1}
	first, err := s.Acquire(ctxT(t), spec, "first", locks.Info{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	owners := []string{"w1", "w2", "w3", "w4"}
	for i, o := range owners {
		queued := make(chan locks.Position, 1)
		other := openStore(t, h) // each from a connection of its own
		wg.Go(func() {
			l, err := other.Acquire(ctxT(t), spec, o, locks.Info{}, func(p locks.Position) {
				select {
				case queued <- p:
				default:
				}
			})
			if err != nil {
				t.Error(err)
				close(queued)
				return
			}
			mu.Lock()
			order = append(order, o)
			mu.Unlock()
			release(t, l)
		})
		p, ok := <-queued // in the queue before the next one comes
		if !ok {
			t.FailNow()
		}
		if p.Ahead != i+1 || p.Holders != 1 || p.Max != 1 || p.Holding {
			t.Fatalf("%s: position %+v, want %d ahead behind 1 holder", o, p, i+1)
		}
	}
	release(t, first)
	wg.Wait()
	if !slices.Equal(order, owners) {
		t.Fatalf("acquired in order %v, want %v", order, owners)
	}
}

// TestListHoldersAndWaiters: List and Get show who holds and who waits, in
// order, with their nodes and commands.
func TestListHoldersAndWaiters(t *testing.T) {
	h := startHub(t)
	s := openStore(t, h)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	a, err := s.Acquire(ctx, locks.Spec{"build", 2}, "a", locks.Info{Node: "n1", What: "make"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer release(t, a)
	b, err := s.Acquire(ctx, locks.Spec{"build", 2}, "b", locks.Info{Node: "n2", What: "make test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer release(t, b)
	other, err := s.Acquire(ctx, locks.Spec{"other", 1}, "o", locks.Info{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer release(t, other)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	for _, o := range []string{"c", "d"} {
		queued := make(chan struct{})
		wg.Go(func() {
			var once sync.Once
			_, err := s.Acquire(ctx, locks.Spec{"build", 2}, o, locks.Info{Node: "n3", What: "docker build " + o}, func(locks.Position) { once.Do(func() { close(queued) }) })
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s: %v, want cancelled", o, err)
			}
		})
		<-queued
	}
	qs, err := s.List(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 2 || qs[0].Name != "build" || qs[1].Name != "other" {
		t.Fatalf("List = %+v, want build and other", qs)
	}
	q := qs[0]
	var holders, waiters []string
	for _, e := range q.Holders() {
		holders = append(holders, e.Owner+"@"+e.Node+":"+e.What)
	}
	for _, e := range q.Waiters() {
		waiters = append(waiters, fmt.Sprintf("%s ahead %d", e.Owner, e.Ahead))
	}
	if !slices.Equal(holders, []string{"a@n1:make", "b@n2:make test"}) || !slices.Equal(waiters, []string{"c ahead 2", "d ahead 3"}) {
		t.Fatalf("holders %v waiters %v", holders, waiters)
	}
	if g, err := s.Get(ctxT(t), "nobody"); err != nil || len(g.Entries) != 0 {
		t.Fatalf("Get(nobody) = %+v, %v", g, err)
	}
	if _, err := s.Get(ctxT(t), "bad name"); !errors.Is(err, locks.ErrBadSpec) {
		t.Fatalf("Get(bad name) = %v, want ErrBadSpec", err)
	}
}

// TestTimeoutLeavesTheQueue: a waiter that gives up leaves at once, so it
// holds nobody up, and says why.
func TestTimeoutLeavesTheQueue(t *testing.T) {
	h := startHub(t)
	s := openStore(t, h)
	spec := locks.Spec{Name: "one", Max: 1}
	a, err := s.Acquire(ctxT(t), spec, "a", locks.Info{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctxT(t), 300*time.Millisecond)
	defer cancel()
	_, err = s.Acquire(ctx, spec, "b", locks.Info{}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire past its deadline = %v, want DeadlineExceeded", err)
	}
	q, err := s.Get(ctxT(t), spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Entries) != 1 || q.Entries[0].Owner != "a" {
		t.Fatalf("queue after b gave up = %+v, want a alone", q.Entries)
	}
	if _, err := s.Acquire(ctxT(t), spec, "a", locks.Info{}, nil); !errors.Is(err, locks.ErrOwnerExists) {
		t.Fatalf("second Acquire by a = %v, want ErrOwnerExists", err)
	}
	release(t, a)
	c, err := s.Acquire(ctxT(t), spec, "c", locks.Info{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	release(t, c)
}

// TestSmallerNWaitsBehindHolders: a task that allows fewer holders than
// are holding waits, and those behind it wait too (first come, first
// served).
func TestSmallerNWaitsBehindHolders(t *testing.T) {
	h := startHub(t)
	s := openStore(t, h)
	a, err := s.Acquire(ctxT(t), locks.Spec{"mixed", 3}, "a", locks.Info{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 2)
	queued := make(chan struct{}, 2)
	note := func(locks.Position) {
		select {
		case queued <- struct{}{}:
		default:
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		l, err := s.Acquire(ctxT(t), locks.Spec{"mixed", 1}, "b", locks.Info{}, note)
		if err == nil {
			got <- "b"
			release(t, l)
		}
	})
	<-queued
	wg.Go(func() {
		l, err := s.Acquire(ctxT(t), locks.Spec{"mixed", 3}, "c", locks.Info{}, note)
		if err == nil {
			got <- "c"
			release(t, l)
		}
	})
	<-queued
	q, err := s.Get(ctxT(t), "mixed")
	if err != nil || len(q.Holders()) != 1 || len(q.Waiters()) != 2 {
		t.Fatalf("with a (N 3) holding, b (N 1) and c (N 3) behind: %+v, %v; want 1 holder, 2 waiters", q, err)
	}
	release(t, a)
	wg.Wait()
	if first := <-got; first != "b" {
		t.Fatalf("first after a: %s, want b", first)
	}
}

// TestHolderConnectionGoneReleasesWithinLease: a holder whose connection
// dies (no release) stops renewing; the next in line holds the lock once
// the lease ends, and the holder's lease says it was lost.
func TestHolderConnectionGoneReleasesWithinLease(t *testing.T) {
	h := startHub(t)
	nc := connect(t, h)
	lease, renew := locks.LeaseFor(testHeartbeat)
	holder, err := locks.Open(ctxT(t), nc, locks.Config{Lease: lease, Renew: renew})
	if err != nil {
		t.Fatal(err)
	}
	spec := locks.Spec{Name: "gone", Max: 1}
	l, err := holder.Acquire(ctxT(t), spec, "holder", locks.Info{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	queued := make(chan struct{})
	acquired := make(chan *locks.Lease, 1)
	waiter := openStore(t, h)
	go func() {
		var once sync.Once
		w, err := waiter.Acquire(ctxT(t), spec, "waiter", locks.Info{}, func(locks.Position) { once.Do(func() { close(queued) }) })
		if err != nil {
			t.Error(err)
		}
		acquired <- w
	}()
	<-queued
	nc.Close()
	killed := time.Now()
	w := <-acquired
	if w == nil {
		t.FailNow()
	}
	took := time.Since(killed)
	release(t, w)
	select {
	case <-l.Lost():
		if !errors.Is(l.Err(), locks.ErrLeaseLost) {
			t.Fatalf("lost lease error = %v", l.Err())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the holder cut off from the hub was not told its lease was lost")
	}
	_ = l.Release(context.Background())
	t.Logf("waiter held the lock %s after the holder's connection closed (lease %s)", took.Round(time.Millisecond), lease)
}

// TestLostKeyIsReportedToTheHolder: a holder whose key is removed behind
// its back learns at its next renewal that it no longer holds the lock.
func TestLostKeyIsReportedToTheHolder(t *testing.T) {
	h := startHub(t)
	s := openStore(t, h)
	l, err := s.Acquire(ctxT(t), locks.Spec{"stolen", 1}, "a", locks.Info{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Release(context.Background()) }()
	if err := s.PurgeKey(ctxT(t), "stolen", "a"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Lost():
	case <-time.After(10 * time.Second):
		t.Fatal("holder not told that its key went")
	}
	if !errors.Is(l.Err(), locks.ErrLeaseLost) {
		t.Fatalf("Err = %v, want ErrLeaseLost", l.Err())
	}
}

// TestWaiterThatLostItsPlaceQueuesAgain: a waiter whose key went while it
// waited queues again at the back and still gets the lock.
func TestWaiterThatLostItsPlaceQueuesAgain(t *testing.T) {
	h := startHub(t)
	s := openStore(t, h)
	spec := locks.Spec{Name: "requeue", Max: 1}
	a, err := s.Acquire(ctxT(t), spec, "a", locks.Info{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	positions := make(chan locks.Position, 16)
	done := make(chan error, 1)
	go func() {
		l, err := s.Acquire(ctxT(t), spec, "b", locks.Info{}, func(p locks.Position) { positions <- p })
		if err == nil {
			release(t, l)
		}
		done <- err
	}()
	<-positions
	q, _ := s.Get(ctxT(t), spec.Name)
	before, _ := q.Find("b")
	if err := s.PurgeKey(ctxT(t), spec.Name, "b"); err != nil {
		t.Fatal(err)
	}
	fabrictest.Eventually(t, 10*time.Second, "b queued again with a new ticket", func() bool {
		q, _ := s.Get(ctxT(t), spec.Name)
		e, ok := q.Find("b")
		return ok && e.Ticket > before.Ticket
	})
	release(t, a)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
