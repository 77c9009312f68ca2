package locks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Position is where an owner stands in a lock's queue.
type Position struct {
	Lock string
	// Ahead counts the holders and waiters before the owner.
	Ahead int
	// Holders counts the current holders.
	Holders int
	// Max is how many may hold the lock at once as far as the owner is
	// concerned: the smallest N among it and those before it.
	Max int
	// Holding reports whether the owner holds the lock.
	Holding bool
}

// enterRetry bounds the pause between attempts to enter a queue while the
// hub does not answer.
const enterRetry = 2 * time.Second

// Acquire enters owner in spec's queue and waits until it holds the lock,
// then returns the lease, which its owner must Release. While it waits,
// progress (if not nil) is called from Acquire's goroutine with the
// owner's place each time it changes. If ctx ends first, the owner leaves
// the queue and the error wraps ctx's. An owner that loses its place while
// it waits (cut off from the hub for a whole lease) enters again, at the
// back. owner must be unique among the lock's holders and waiters (a task
// id): a second Acquire for the same owner fails with ErrOwnerExists.
func (s *Store) Acquire(ctx context.Context, spec Spec, owner string, info Info, progress func(Position)) (*Lease, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if err := validToken("lock owner", owner); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSpec, err)
	}
	if len(info.What) > maxWhat {
		info.What = info.What[:maxWhat-3] + "..."
	}
	for {
		l, err := s.enter(ctx, spec, owner, info)
		if err != nil {
			return nil, err
		}
		err = s.wait(ctx, l, spec, progress)
		if err == nil {
			return l, nil
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Lease)
		_ = l.Release(rctx) // its key expires anyway if the hub does not answer
		cancel()
		if errors.Is(err, ErrLeaseLost) && ctx.Err() == nil {
			s.cfg.Logger.Warn("lost its place in a lock's queue; queueing again", "lock", spec.Name, "owner", owner, "why", err)
			continue
		}
		return nil, fmt.Errorf("lock %s: %w", spec.Name, err)
	}
}

// enter writes the owner's key and starts renewing it. It retries while
// the hub does not answer, until ctx ends.
func (s *Store) enter(ctx context.Context, spec Spec, owner string, info Info) (*Lease, error) {
	v := value{Max: spec.Max, Since: time.Now(), Info: info}
	k := key(spec.Name, owner)
	pause := 100 * time.Millisecond
	for {
		sent := time.Now()
		cctx, cancel := context.WithTimeout(ctx, s.cfg.Lease)
		rev, err := s.kv.Create(cctx, k, v.encode(), jetstream.KeyTTL(s.cfg.Lease))
		cancel()
		if err == nil {
			v.Ticket = rev
			l := &Lease{s: s, spec: spec, owner: owner, key: k, val: v.encode(), rev: rev, lastOK: sent,
				lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
			go l.renewLoop()
			return l, nil
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("lock %s: %s: %w", spec.Name, owner, ErrOwnerExists)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("lock %s: %w", spec.Name, ctx.Err())
		}
		s.cfg.Logger.Warn("could not queue for a lock; trying again", "lock", spec.Name, "owner", owner, "err", err)
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("lock %s: %w", spec.Name, ctx.Err())
		}
		pause = min(2*pause, enterRetry)
	}
}

// wait follows the lock's queue until l holds it.
func (s *Store) wait(ctx context.Context, l *Lease, spec Spec, progress func(Position)) error {
	var (
		w       jetstream.KeyWatcher
		v       *view
		seen    map[string]time.Time // when each entry was last written, as watched
		ready   bool                 // the watch delivered every current entry
		last    = Position{Ahead: -1}
		restart = func() error {
			if w != nil {
				stopWatch(w)
			}
			var err error
			if w, err = s.kv.Watch(ctx, spec.Name+".*"); err != nil {
				w = nil
				return fmt.Errorf("watch: %w", err)
			}
			v, seen, ready = newView(spec.Name), map[string]time.Time{}, false
			return nil
		}
	)
	if err := restart(); err != nil {
		return err
	}
	defer func() {
		if w != nil {
			stopWatch(w)
		}
	}()
	// A watcher that missed a release (cut off longer than the server keeps
	// the marker) would wait for an entry that is gone: an entry not
	// renewed for a lease and a round of renewals makes it look again.
	check := time.NewTicker(s.cfg.Lease)
	defer check.Stop()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return errors.New("watch ended: connection closed")
			}
			if e == nil {
				ready = true
			} else if v.apply(e) {
				seen[e.Key()] = time.Now()
			}
			if !ready {
				continue
			}
			q := v.queue()
			me, found := q.Find(l.owner)
			if !found {
				return fmt.Errorf("%w: its key is gone", ErrLeaseLost)
			}
			if me.Holding {
				return nil
			}
			pos := Position{Lock: spec.Name, Ahead: me.Ahead, Holders: len(q.Holders()), Max: me.Max}
			for _, en := range q.Entries[:me.Ahead] {
				pos.Max = min(pos.Max, en.Max)
			}
			if pos != last && progress != nil {
				progress(pos)
			}
			last = pos
		case <-check.C:
			stale := time.Now().Add(-s.cfg.Lease - 2*s.cfg.Renew)
			for k, at := range seen {
				if at.Before(stale) && k != l.key {
					if err := restart(); err != nil {
						return err
					}
					break
				}
			}
		case <-l.Lost():
			return l.Err()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Lease is an owner's place in a lock's queue, kept alive by renewing its
// key; from Acquire, it holds the lock. Its methods are safe for
// concurrent use.
type Lease struct {
	s     *Store
	spec  Spec
	owner string
	key   string
	val   []byte

	mu     sync.Mutex
	rev    uint64    // of the key's last write
	lastOK time.Time // when the last confirmed write was sent
	err    error     // why the lease was lost

	lost        chan struct{}
	lostOnce    sync.Once
	stop, done  chan struct{}
	releaseOnce sync.Once
	releaseErr  error
}

// Spec returns the lock the lease is for.
func (l *Lease) Spec() Spec { return l.spec }

// Lost is closed when the lease is lost: the owner could not renew its key
// for a whole lease, or found it gone. Others may hold the lock from then.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Err says why the lease was lost, or nil.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Release stops renewing and removes the owner's key, so the next in line
// holds the lock at once. If the hub does not answer, the key expires at
// the end of its lease all the same. Safe to call more than once.
func (l *Lease) Release(ctx context.Context) error {
	l.releaseOnce.Do(func() {
		close(l.stop)
		<-l.done
		if err := l.s.kv.Purge(ctx, l.key, jetstream.PurgeTTL(markerTTL)); err != nil {
			l.releaseErr = fmt.Errorf("release lock %s: %w (its lease ends within %s)", l.spec.Name, err, l.s.cfg.Lease)
		}
	})
	return l.releaseErr
}

func (l *Lease) markLost(err error) {
	l.lostOnce.Do(func() {
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
		close(l.lost)
	})
}

// renewLoop renews the key every Renew until Release or the lease is lost.
func (l *Lease) renewLoop() {
	defer close(l.done)
	t := time.NewTicker(l.s.cfg.Renew)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		if err := l.renew(); err != nil {
			l.markLost(err)
			return
		}
	}
}

// renew writes the key again with a fresh TTL, if it is still the key's
// last write. It returns an error only when the lease is lost.
func (l *Lease) renew() error {
	lease := l.s.cfg.Lease
	l.mu.Lock()
	rev, lastOK := l.rev, l.lastOK
	l.mu.Unlock()
	sent := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), lease/2)
	defer cancel()
	ack, err := l.s.js.PublishMsg(ctx, &nats.Msg{Subject: l.s.prefix + l.key, Data: l.val},
		jetstream.WithExpectLastSequencePerSubject(rev), jetstream.WithMsgTTL(lease))
	if err == nil {
		l.mu.Lock()
		l.rev, l.lastOK = ack.Sequence, sent
		l.mu.Unlock()
		return nil
	}
	if isWrongSequence(err) {
		// Either a renewal whose answer was lost did land (the key is ours,
		// at a revision we did not hear of), or the key is gone.
		e, gerr := l.s.kv.Get(ctx, l.key)
		switch {
		case gerr == nil && e.Operation() == jetstream.KeyValuePut && string(e.Value()) == string(l.val):
			l.mu.Lock()
			l.rev = e.Revision()
			l.mu.Unlock()
			return nil
		case gerr == nil || errors.Is(gerr, jetstream.ErrKeyNotFound) || errors.Is(gerr, jetstream.ErrKeyDeleted):
			return fmt.Errorf("%w: lock %s: its key is gone (not renewed within its lease of %s)", ErrLeaseLost, l.spec.Name, lease)
		}
	}
	if since := time.Since(lastOK); since >= lease {
		return fmt.Errorf("%w: lock %s: not renewed for %s, its whole lease (%v)", ErrLeaseLost, l.spec.Name, since.Round(time.Millisecond), err)
	}
	l.s.cfg.Logger.Warn("lock renewal failed; trying again", "lock", l.spec.Name, "owner", l.owner, "err", err)
	return nil
}
