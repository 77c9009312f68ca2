package locks_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/locks"
)

// startHolder starts a separate process that takes lock spec as owner and
// returns once it holds it.
func startHolder(t *testing.T, url, spec, owner string) *exec.Cmd {
	t.Helper()
	cmd, held := spawnHolder(t, url, spec, owner)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	return cmd
}

// spawnHolder starts a holder process; held says when it holds the lock
// (nil) or why it never will.
func spawnHolder(t *testing.T, url, spec, owner string) (*exec.Cmd, <-chan error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holderEnv+"="+url, holderLockEnv+"="+spec, holderOwnerEnv+"="+owner)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	held := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || line != "held\n" {
			err = fmt.Errorf("holder process %s: %q, %v", owner, line, err)
		}
		held <- err
	}()
	return cmd, held
}

// TestKilledHolderProcessReleasesWithinThreeHeartbeats: a holder process
// SIGKILLed (no release, no goodbye) holds the lock no longer than its
// lease, which ends within three heartbeat intervals; the waiter behind
// it gets the lock, so the lock is never held by nobody while one waits.
func TestKilledHolderProcessReleasesWithinThreeHeartbeats(t *testing.T) {
	h := startHub(t)
	holder := startHolder(t, h.ClientURL(), "build", "child")
	s := openStore(t, h)
	q, err := s.Get(ctxT(t), "build")
	if err != nil || len(q.Holders()) != 1 || q.Holders()[0].Owner != "child" {
		t.Fatalf("while the child holds it: %+v, %v", q, err)
	}
	queued := make(chan struct{})
	acquired := make(chan *locks.Lease, 1)
	go func() {
		var once sync.Once
		l, err := s.Acquire(ctxT(t), locks.Spec{"build", 1}, "parent", locks.Info{}, func(locks.Position) { once.Do(func() { close(queued) }) })
		if err != nil {
			t.Error(err)
		}
		acquired <- l
	}()
	<-queued
	if err := holder.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	l := <-acquired
	if l == nil {
		t.FailNow()
	}
	took := time.Since(killed)
	release(t, l)
	// The bound the lease is built for (locks.LeaseFor): a killed holder's key
	// lives at most two and a half intervals, in whole seconds, after its
	// last renewal, which came before the kill.
	if took > 3*testHeartbeat {
		t.Fatalf("lock released %s after its holder was killed; want within three heartbeats (%s)", took, 3*testHeartbeat)
	}
	t.Logf("released %s after SIGKILL of its holder (heartbeat %s)", took.Round(time.Millisecond), testHeartbeat)
}

// TestKilledHoldersNeverLeaveTheLockStuck: holders in separate processes
// SIGKILLed one after another while in-process acquirers queue behind
// them: every acquirer gets the lock, never two at once.
func TestKilledHoldersNeverLeaveTheLockStuck(t *testing.T) {
	h := startHub(t)
	const children, waiters = 3, 4
	var holding, most atomic.Int32
	var wg sync.WaitGroup
	done := make(chan string, waiters)
	// Two children hold it; the third and the waiters queue.
	var kids []*exec.Cmd
	for i := range children - 1 {
		kids = append(kids, startHolder(t, h.ClientURL(), "stuck:2", fmt.Sprint("kid", i)))
	}
	third, thirdHeld := spawnHolder(t, h.ClientURL(), "stuck:2", "kid2")
	s := openStore(t, h)
	fabrictest.Eventually(t, 10*time.Second, "the third child queued", func() bool {
		q, _ := s.Get(ctxT(t), "stuck")
		return len(q.Entries) == 3
	})
	for i := range waiters {
		st := openStore(t, h)
		queued := make(chan struct{})
		wg.Go(func() {
			var once sync.Once
			l, err := st.Acquire(ctxT(t), locks.Spec{"stuck", 2}, fmt.Sprint("w", i), locks.Info{}, func(locks.Position) { once.Do(func() { close(queued) }) })
			if err != nil {
				t.Error(err)
				once.Do(func() { close(queued) })
				return
			}
			now := holding.Add(1)
			for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
			}
			time.Sleep(20 * time.Millisecond)
			holding.Add(-1)
			release(t, l)
			done <- fmt.Sprint("w", i)
		})
		<-queued
	}
	for _, k := range kids {
		if err := k.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-thirdHeld; err != nil { // holds once the first two are gone
		t.Fatal(err)
	}
	if err := third.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(done)
	n := 0
	for range done {
		n++
	}
	if n != waiters {
		t.Fatalf("%d of %d waiters got the lock", n, waiters)
	}
	if m := most.Load(); m > 2 {
		t.Fatalf("%d waiters held stuck:2 at once", m)
	}
}
