package tasks

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/fabric-run/fabric/internal/wire"
)

// memStore is the Store of a fabric with no JetStream: records live as long
// as the process, and no longer than MaxAge. Values are kept encoded, as the
// JetStream store keeps them, so both behave alike (sizes, copies).
type memStore struct {
	cfg Config

	mu        sync.Mutex
	records   map[string]memValue
	results   map[string]memValue
	keys      map[string]memValue      // idempotency keys: the task id each names
	waiters   map[string]chan struct{} // closed when the id gets a result
	lastSweep time.Time

	closeOnce sync.Once
	closed    chan struct{}
}

type memValue struct {
	data    []byte
	written time.Time
}

// NewMemory returns a Store that keeps everything in memory. Values expire
// MaxAge after they were written, by cfg.Now. Bucket and Replicas are not
// used.
func NewMemory(cfg Config) Store {
	c := cfg.withDefaults()
	if c.MaxValueSize == 0 {
		c.MaxValueSize = DefaultMaxValueSize
	}
	return &memStore{
		cfg:       c,
		records:   make(map[string]memValue),
		results:   make(map[string]memValue),
		keys:      make(map[string]memValue),
		waiters:   make(map[string]chan struct{}),
		lastSweep: c.Now(),
		closed:    make(chan struct{}),
	}
}

func (m *memStore) Backend() string { return BackendMemory }

func (m *memStore) ResultSubject(string) string { return "" }

func (m *memStore) limit() int { return m.cfg.MaxValueSize - Headroom }

// live reports whether v exists and has not expired at now.
func (m *memStore) live(v memValue, ok bool, now time.Time) bool {
	return ok && now.Sub(v.written) < m.cfg.MaxAge
}

// sweep drops expired values, at most every MaxAge/4. Readers check expiry
// themselves; sweeping only bounds memory. Called with mu held.
func (m *memStore) sweep(now time.Time) {
	if now.Sub(m.lastSweep) < m.cfg.MaxAge/4 {
		return
	}
	m.lastSweep = now
	for id, v := range m.records {
		if !m.live(v, true, now) {
			delete(m.records, id)
		}
	}
	for id, v := range m.results {
		if !m.live(v, true, now) {
			delete(m.results, id)
		}
	}
	for k, v := range m.keys {
		if !m.live(v, true, now) {
			delete(m.keys, k)
		}
	}
}

func (m *memStore) isClosed() bool {
	select {
	case <-m.closed:
		return true
	default:
		return false
	}
}

func (m *memStore) Create(ctx context.Context, rec *Record) error {
	if err := checkID("create task", rec.ID); err != nil {
		return err
	}
	now := m.cfg.Now()
	if rec.Submitted.IsZero() {
		rec.Submitted = now
	}
	if rec.State == "" {
		rec.State = StateQueued
	}
	b, err := encodeRecord(rec, m.limit())
	if err != nil {
		return fmt.Errorf("create task %s: %w", rec.ID, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.isClosed() {
		return fmt.Errorf("create task %s: %w", rec.ID, ErrClosed)
	}
	m.sweep(now)
	if v, ok := m.records[rec.ID]; m.live(v, ok, now) {
		return fmt.Errorf("create task %s: %w", rec.ID, ErrExists)
	}
	m.records[rec.ID] = memValue{data: b, written: now}
	return nil
}

func (m *memStore) Update(ctx context.Context, rec *Record) error {
	if err := checkID("update task", rec.ID); err != nil {
		return err
	}
	b, err := encodeRecord(rec, m.limit())
	if err != nil {
		return fmt.Errorf("update task %s: %w", rec.ID, err)
	}
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.isClosed() {
		return fmt.Errorf("update task %s: %w", rec.ID, ErrClosed)
	}
	if v, ok := m.records[rec.ID]; !m.live(v, ok, now) {
		return fmt.Errorf("update task %s: %w", rec.ID, ErrNotFound)
	}
	m.records[rec.ID] = memValue{data: b, written: now}
	return nil
}

func (m *memStore) Get(ctx context.Context, id string) (*Record, *wire.Result, error) {
	if err := checkID("get task", id); err != nil {
		return nil, nil, err
	}
	now := m.cfg.Now()
	m.mu.Lock()
	if m.isClosed() {
		m.mu.Unlock()
		return nil, nil, fmt.Errorf("get task %s: %w", id, ErrClosed)
	}
	rv, rok := m.records[id]
	rok = m.live(rv, rok, now)
	sv, sok := m.results[id]
	sok = m.live(sv, sok, now)
	m.mu.Unlock()

	var res *wire.Result
	if sok {
		r, err := decodeResult(id, sv.data)
		if err != nil {
			return nil, nil, fmt.Errorf("get task %s: %w", id, err)
		}
		res = r
	}
	if !rok {
		if res == nil {
			return nil, nil, fmt.Errorf("get task %s: %w", id, ErrNotFound)
		}
		return recordFromResult(id, res), res, nil
	}
	rec, err := decodeRecord(id, rv.data)
	if err != nil {
		return nil, nil, fmt.Errorf("get task %s: %w", id, err)
	}
	return rec, res, nil
}

func (m *memStore) PutResult(ctx context.Context, res *wire.Result) error {
	if err := checkID("put result", res.ID); err != nil {
		return err
	}
	t, err := TrimResult(res, int64(m.cfg.MaxValueSize))
	if err != nil {
		return fmt.Errorf("put result %s: %w", res.ID, err)
	}
	b, err := wire.Marshal(t)
	if err != nil {
		return fmt.Errorf("put result %s: %w", res.ID, err)
	}
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.isClosed() {
		return fmt.Errorf("put result %s: %w", res.ID, ErrClosed)
	}
	m.sweep(now)
	m.results[res.ID] = memValue{data: b, written: now}
	if w, ok := m.waiters[res.ID]; ok {
		close(w)
		delete(m.waiters, res.ID)
	}
	return nil
}

func (m *memStore) WaitResult(ctx context.Context, id string) (*wire.Result, error) {
	if err := checkID("wait for result", id); err != nil {
		return nil, err
	}
	for {
		m.mu.Lock()
		if m.isClosed() {
			m.mu.Unlock()
			return nil, fmt.Errorf("wait for result %s: %w", id, ErrClosed)
		}
		v, ok := m.results[id]
		if m.live(v, ok, m.cfg.Now()) {
			m.mu.Unlock()
			res, err := decodeResult(id, v.data)
			if err != nil {
				return nil, fmt.Errorf("wait for result %s: %w", id, err)
			}
			return res, nil
		}
		w, ok := m.waiters[id]
		if !ok {
			w = make(chan struct{})
			m.waiters[id] = w
		}
		m.mu.Unlock()

		select {
		case <-w:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for result %s: %w", id, ctx.Err())
		case <-m.closed:
			return nil, fmt.Errorf("wait for result %s: %w", id, ErrClosed)
		}
	}
}

func (m *memStore) List(ctx context.Context, limit int) ([]*Record, error) {
	now := m.cfg.Now()
	m.mu.Lock()
	if m.isClosed() {
		m.mu.Unlock()
		return nil, fmt.Errorf("list tasks: %w", ErrClosed)
	}
	m.sweep(now)
	type kept struct {
		id   string
		data []byte
	}
	vals := make([]kept, 0, len(m.records))
	for id, v := range m.records {
		if m.live(v, true, now) {
			vals = append(vals, kept{id, v.data})
		}
	}
	m.mu.Unlock()

	recs := make([]*Record, 0, len(vals))
	for _, v := range vals {
		rec, err := decodeRecord(v.id, v.data)
		if err != nil {
			m.cfg.Logger.Warn("skipping unreadable task record", "task", v.id, "err", err)
			continue
		}
		recs = append(recs, rec)
	}
	return newestFirst(recs, limit), nil
}

func (m *memStore) Close() error {
	m.closeOnce.Do(func() { close(m.closed) })
	return nil
}

// newestFirst sorts recs by submission time, newest first (ties by id), and
// keeps the first limit of them (all when limit <= 0).
func newestFirst(recs []*Record, limit int) []*Record {
	slices.SortFunc(recs, func(a, b *Record) int {
		if c := b.Submitted.Compare(a.Submitted); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	if limit > 0 && len(recs) > limit {
		recs = recs[:limit]
	}
	return recs
}
