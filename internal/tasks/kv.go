package tasks

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fabric-run/fabric/internal/wire"
)

// kvStore keeps records and results in a JetStream key-value bucket: file
// storage, one value per key, values expiring MaxAge after they were
// written (the bucket's TTL).
type kvStore struct {
	cfg      Config
	kv       jetstream.KeyValue
	maxValue int // the bucket's value size bound: a message's max payload

	closeOnce sync.Once
	closed    chan struct{}
}

// updateAttempts bounds Update's read-modify-write retries when another
// writer updates the same record at the same moment.
const updateAttempts = 5

// Open returns the task store for the server nc is connected to: a JetStream
// key-value bucket (created, or updated to cfg, or else bound as it is) when
// the server has JetStream for this account, and the memory store otherwise
// (Backend tells which). It fails only when JetStream is there but the bucket
// cannot be used, or the server cannot be asked. The store does not own nc.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (Store, error) {
	if nc == nil {
		return nil, errors.New("open task store: no NATS connection")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("open task store: %w", err)
	}
	maxValue := int(min(nc.MaxPayload(), 1<<31-1))
	if cfg.MaxValueSize > 0 {
		maxValue = min(maxValue, cfg.MaxValueSize)
	}

	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("open task store: %w", err)
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			cfg.Logger.Info("no JetStream on the server: task records are kept in this process only", "err", err)
			cfg.MaxValueSize = maxValue
			return NewMemory(cfg), nil
		}
		return nil, fmt.Errorf("open task store: ask for JetStream: %w", err)
	}

	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:       cfg.Bucket,
		Description:  "fabric task records and results",
		MaxValueSize: int32(maxValue),
		History:      1,
		TTL:          cfg.MaxAge,
		Storage:      jetstream.FileStorage,
		Replicas:     cfg.Replicas,
	})
	if err != nil {
		// Someone else's bucket, or no permission to manage streams: use
		// the bucket as it is if there is one.
		bound, berr := js.KeyValue(ctx, cfg.Bucket)
		if berr != nil {
			return nil, fmt.Errorf("open task store: bucket %s: %w", cfg.Bucket, err)
		}
		cfg.Logger.Warn("task bucket could not be created or updated; using it as it is", "bucket", cfg.Bucket, "err", err)
		kv = bound
		if st, serr := kv.Status(ctx); serr == nil {
			if mv := int(st.Config().MaxValueSize); mv > 0 {
				maxValue = min(maxValue, mv)
			}
		}
	}
	return &kvStore{cfg: cfg, kv: kv, maxValue: maxValue, closed: make(chan struct{})}, nil
}

func (s *kvStore) Backend() string { return BackendJetStream }

func (s *kvStore) ResultSubject(id string) string {
	if !validID.MatchString(id) {
		return ""
	}
	return "$KV." + s.cfg.Bucket + "." + resultKey(id)
}

func (s *kvStore) limit() int { return s.maxValue - Headroom }

func (s *kvStore) checkOpen(op, id string) error {
	select {
	case <-s.closed:
		return fmt.Errorf("%s %s: %w", op, id, ErrClosed)
	default:
		return nil
	}
}

func (s *kvStore) Create(ctx context.Context, rec *Record) error {
	const op = "create task"
	if err := checkID(op, rec.ID); err != nil {
		return err
	}
	if err := s.checkOpen(op, rec.ID); err != nil {
		return err
	}
	if rec.Submitted.IsZero() {
		rec.Submitted = s.cfg.Now()
	}
	if rec.State == "" {
		rec.State = StateQueued
	}
	b, err := encodeRecord(rec, s.limit())
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, rec.ID, err)
	}
	if _, err := s.kv.Create(ctx, recordKey(rec.ID), b); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("%s %s: %w", op, rec.ID, ErrExists)
		}
		return fmt.Errorf("%s %s: %w", op, rec.ID, err)
	}
	return nil
}

func (s *kvStore) Update(ctx context.Context, rec *Record) error {
	const op = "update task"
	if err := checkID(op, rec.ID); err != nil {
		return err
	}
	if err := s.checkOpen(op, rec.ID); err != nil {
		return err
	}
	b, err := encodeRecord(rec, s.limit())
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, rec.ID, err)
	}
	key := recordKey(rec.ID)
	for range updateAttempts {
		// Update by revision so that an expired record is not brought back.
		e, err := s.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("%s %s: %w", op, rec.ID, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", op, rec.ID, err)
		}
		_, err = s.kv.Update(ctx, key, b, e.Revision())
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // written in between: replace that instead
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", op, rec.ID, err)
		}
		return nil
	}
	return fmt.Errorf("%s %s: still changing under us after %d attempts", op, rec.ID, updateAttempts)
}

func (s *kvStore) Get(ctx context.Context, id string) (*Record, *wire.Result, error) {
	const op = "get task"
	if err := checkID(op, id); err != nil {
		return nil, nil, err
	}
	if err := s.checkOpen(op, id); err != nil {
		return nil, nil, err
	}
	var res *wire.Result
	switch e, err := s.kv.Get(ctx, resultKey(id)); {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return nil, nil, fmt.Errorf("%s %s: result: %w", op, id, err)
	default:
		if res, err = decodeResult(id, e.Value()); err != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", op, id, err)
		}
	}
	e, err := s.kv.Get(ctx, recordKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		if res == nil {
			return nil, nil, fmt.Errorf("%s %s: %w", op, id, ErrNotFound)
		}
		return recordFromResult(id, res), res, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", op, id, err)
	}
	rec, err := decodeRecord(id, e.Value())
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", op, id, err)
	}
	return rec, res, nil
}

func (s *kvStore) PutResult(ctx context.Context, res *wire.Result) error {
	const op = "put result"
	if err := checkID(op, res.ID); err != nil {
		return err
	}
	if err := s.checkOpen(op, res.ID); err != nil {
		return err
	}
	t, err := TrimResult(res, int64(s.maxValue))
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, res.ID, err)
	}
	b, err := wire.Marshal(t)
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, res.ID, err)
	}
	if _, err := s.kv.Put(ctx, resultKey(res.ID), b); err != nil {
		return fmt.Errorf("%s %s: %w", op, res.ID, err)
	}
	return nil
}

func (s *kvStore) WaitResult(ctx context.Context, id string) (*wire.Result, error) {
	const op = "wait for result"
	if err := checkID(op, id); err != nil {
		return nil, err
	}
	if err := s.checkOpen(op, id); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, id, err) // no watch to set up and tear down
	}
	// The watch delivers the current value if there is one, then a nil
	// marker, then every later write: no result can slip in between.
	w, err := s.kv.Watch(ctx, resultKey(id))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", op, id, ctx.Err())
		}
		return nil, fmt.Errorf("%s %s: watch: %w", op, id, err)
	}
	defer stopWatch(w)
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("%s %s: watch ended: %w", op, id, nats.ErrConnectionClosed)
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			res, err := decodeResult(id, e.Value())
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", op, id, err)
			}
			return res, nil
		case <-ctx.Done():
			return nil, fmt.Errorf("%s %s: %w", op, id, ctx.Err())
		case <-s.closed:
			return nil, fmt.Errorf("%s %s: %w", op, id, ErrClosed)
		}
	}
}

func (s *kvStore) List(ctx context.Context, limit int) ([]*Record, error) {
	const op = "list tasks"
	select {
	case <-s.closed:
		return nil, fmt.Errorf("%s: %w", op, ErrClosed)
	default:
	}
	w, err := s.kv.Watch(ctx, recordKey(">"), jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer stopWatch(w)
	var recs []*Record
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("%s: watch ended: %w", op, nats.ErrConnectionClosed)
			}
			if e == nil { // every current record delivered
				return newestFirst(recs, limit), nil
			}
			id := e.Key()[len(recordKey("")):]
			rec, err := decodeRecord(id, e.Value())
			if err != nil {
				s.cfg.Logger.Warn("skipping unreadable task record", "task", id, "err", err)
				continue
			}
			recs = append(recs, rec)
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w", op, ctx.Err())
		case <-s.closed:
			return nil, fmt.Errorf("%s: %w", op, ErrClosed)
		}
	}
}

// stopWatch stops w and drains it until it is closed: a watcher whose
// channel is full blocks its subscription's delivery goroutine, which then
// never ends unless someone reads.
func stopWatch(w jetstream.KeyWatcher) {
	_ = w.Stop() // fails only if the subscription is gone already
	for range w.Updates() {
	}
}

func (s *kvStore) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	return nil
}
