package locks

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Info describes an owner, for people listing a lock.
type Info struct {
	// Node is where the owner runs.
	Node string `json:"node,omitempty"`
	// What is what it does under the lock (a command line, shortened).
	What string `json:"what,omitempty"`
}

// maxWhat bounds Info.What as stored.
const maxWhat = 200

// value is what an entry's key holds.
type value struct {
	Max int `json:"max"`
	// Ticket is the stream sequence of the entry's first write; zero in
	// that write itself, whose revision it is.
	Ticket uint64    `json:"ticket,omitempty"`
	Since  time.Time `json:"since"`
	Info
}

func (v value) encode() []byte {
	b, _ := json.Marshal(v) // plain fields: cannot fail
	return b
}

// Entry is one holder or waiter of a lock.
type Entry struct {
	Lock  string
	Owner string
	// Max is how many holders the owner allows at once (its N).
	Max int
	// Ticket orders the queue: the earlier the smaller.
	Ticket uint64
	// Since is when the owner asked for the lock, in its clock.
	Since time.Time
	Info
	// Holding reports whether the entry holds the lock.
	Holding bool
	// Ahead counts the entries before this one (holders and waiters).
	Ahead int

	revision uint64 // of the entry's last write
}

// entryOf decodes a watched or read key-value entry; ok is false for keys
// that are not entries (released, expired, foreign).
func entryOf(e jetstream.KeyValueEntry) (Entry, bool) {
	if e.Operation() != jetstream.KeyValuePut {
		return Entry{}, false
	}
	lock, owner, ok := splitKey(e.Key())
	if !ok {
		return Entry{}, false
	}
	var v value
	if err := json.Unmarshal(e.Value(), &v); err != nil || v.Max < 1 {
		return Entry{}, false
	}
	t := v.Ticket
	if t == 0 {
		t = e.Revision()
	}
	return Entry{Lock: lock, Owner: owner, Max: v.Max, Ticket: t, Since: v.Since, Info: v.Info, revision: e.Revision()}, true
}

// Queue is one lock's holders and waiters, in order: the holders first.
type Queue struct {
	Name    string
	Entries []Entry
}

// Holders returns the entries that hold the lock.
func (q Queue) Holders() []Entry {
	n := 0
	for n < len(q.Entries) && q.Entries[n].Holding {
		n++
	}
	return q.Entries[:n]
}

// Waiters returns the entries that wait for the lock, first in line first.
func (q Queue) Waiters() []Entry { return q.Entries[len(q.Holders()):] }

// Find returns the owner's entry.
func (q Queue) Find(owner string) (Entry, bool) {
	for _, e := range q.Entries {
		if e.Owner == owner {
			return e, true
		}
	}
	return Entry{}, false
}

// order sorts entries by ticket and marks who holds the lock: the entry at
// place i holds it when fewer than the smallest N among it and those
// before it are ahead of it. Holders are therefore always a prefix, none
// of them sees more holders than its own N, and an entry that holds keeps
// holding as entries before it go.
func order(name string, entries []Entry) Queue {
	slices.SortFunc(entries, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.Ticket, b.Ticket), cmp.Compare(a.Owner, b.Owner))
	})
	limit := int(^uint(0) >> 1)
	for i := range entries {
		limit = min(limit, entries[i].Max)
		entries[i].Ahead = i
		entries[i].Holding = i < limit
	}
	return Queue{Name: name, Entries: entries}
}

// view is a lock's entries as one watcher knows them.
type view struct {
	name    string
	entries map[string]Entry // by owner
}

func newView(name string) *view { return &view{name: name, entries: map[string]Entry{}} }

// apply takes in one watched update; it reports whether the view changed.
func (v *view) apply(e jetstream.KeyValueEntry) bool {
	lock, owner, ok := splitKey(e.Key())
	if !ok || lock != v.name {
		return false
	}
	if en, ok := entryOf(e); ok {
		v.entries[owner] = en
		return true
	}
	if _, had := v.entries[owner]; had {
		delete(v.entries, owner)
		return true
	}
	return false
}

func (v *view) queue() Queue {
	list := make([]Entry, 0, len(v.entries))
	for _, e := range v.entries {
		list = append(list, e)
	}
	return order(v.name, list)
}

// List returns every lock that has holders or waiters, by name.
func (s *Store) List(ctx context.Context) ([]Queue, error) {
	return s.snapshot(ctx, jetstream.AllKeys)
}

// Get returns the holders and waiters of one lock (none if nobody holds or
// waits for it).
func (s *Store) Get(ctx context.Context, name string) (Queue, error) {
	if err := validToken("lock name", name); err != nil {
		return Queue{}, fmt.Errorf("%w: %v", ErrBadSpec, err)
	}
	qs, err := s.snapshot(ctx, name+".*")
	if err != nil || len(qs) == 0 {
		return Queue{Name: name}, err
	}
	return qs[0], nil
}

// snapshot reads the live entries under filter, grouped by lock.
func (s *Store) snapshot(ctx context.Context, filter string) ([]Queue, error) {
	w, err := s.kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("list locks: %w", err)
	}
	defer stopWatch(w)
	views := map[string]*view{}
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("list locks: watch ended")
			}
			if e == nil {
				names := make([]string, 0, len(views))
				for n := range views {
					names = append(names, n)
				}
				slices.Sort(names)
				qs := make([]Queue, 0, len(names))
				for _, n := range names {
					if q := views[n].queue(); len(q.Entries) > 0 {
						qs = append(qs, q)
					}
				}
				return qs, nil
			}
			lock, _, ok := splitKey(e.Key())
			if !ok {
				continue
			}
			v := views[lock]
			if v == nil {
				v = newView(lock)
				views[lock] = v
			}
			v.apply(e)
		case <-ctx.Done():
			return nil, fmt.Errorf("list locks: %w", ctx.Err())
		}
	}
}

// stopWatch stops w and drains it until it is closed: a watcher whose
// channel is full blocks its subscription's delivery goroutine.
func stopWatch(w jetstream.KeyWatcher) {
	_ = w.Stop()
	for range w.Updates() {
	}
}
