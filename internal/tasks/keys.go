package tasks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// MaxKeyLen bounds an idempotency key.
const MaxKeyLen = 256

// ErrBadKey: an idempotency key that is empty or too long.
var ErrBadKey = errors.New("bad idempotency key")

// keyClaim is what an idempotency key's entry holds.
type keyClaim struct {
	ID  string    `json:"id"`
	Key string    `json:"key"`
	At  time.Time `json:"at"`
}

// keyKey is the store key of an idempotency key: its SHA-256, so any
// string can be one.
func keyKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "key." + hex.EncodeToString(sum[:])
}

func checkKey(key string) error {
	if key == "" || len(key) > MaxKeyLen {
		return fmt.Errorf("%w: want 1 to %d bytes, got %d", ErrBadKey, MaxKeyLen, len(key))
	}
	return nil
}

// ClaimKey of the JetStream store is a KV create, which one writer alone
// can win.
func (s *kvStore) ClaimKey(ctx context.Context, key, id string) (string, error) {
	const op = "claim idempotency key"
	if err := checkKey(key); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	if err := checkID(op, id); err != nil {
		return "", err
	}
	if err := s.checkOpen(op, id); err != nil {
		return "", err
	}
	b, _ := json.Marshal(keyClaim{ID: id, Key: key, At: s.cfg.Now()})
	k := keyKey(key)
	for range updateAttempts {
		_, err := s.kv.Create(ctx, k, b)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return "", fmt.Errorf("%s %q: %w", op, key, err)
		}
		e, err := s.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue // expired in between: claim it again
		}
		if err != nil {
			return "", fmt.Errorf("%s %q: %w", op, key, err)
		}
		var c keyClaim
		if err := json.Unmarshal(e.Value(), &c); err != nil || c.ID == "" {
			return "", fmt.Errorf("%s %q: unreadable claim: %v", op, key, err)
		}
		return c.ID, nil
	}
	return "", fmt.Errorf("%s %q: still changing after %d attempts", op, key, updateAttempts)
}

// ClaimKey of the memory store.
func (m *memStore) ClaimKey(_ context.Context, key, id string) (string, error) {
	const op = "claim idempotency key"
	if err := checkKey(key); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	if err := checkID(op, id); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.isClosed() {
		return "", fmt.Errorf("%s: %w", op, ErrClosed)
	}
	now := m.cfg.Now()
	k := keyKey(key)
	if v, ok := m.keys[k]; m.live(v, ok, now) {
		return string(v.data), nil
	}
	m.keys[k] = memValue{data: []byte(id), written: now}
	return id, nil
}
