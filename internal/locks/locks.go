// Package locks keeps cluster-wide counting locks (semaphores) in a
// JetStream key-value bucket: at most N holders of a lock NAME at once,
// the others waiting in the order they came.
//
// Every holder and every waiter is one key, NAME.OWNER, written with a
// per-message TTL (the lease) and renewed by its owner with a
// compare-and-set that sets the TTL again. The queue is the set of live
// keys of a lock, in the order of their first write (the stream sequence
// of the key's creation, its ticket, carried in every renewal): the first
// entries hold the lock, as many as the smallest N among them allows, and
// the rest wait. Nothing else is stored, so nothing can disagree: an owner
// that releases deletes its key, an owner that dies stops renewing and the
// server removes its key when the lease runs out, and in either case the
// next in line holds the lock from that moment. A lock is never held by
// nobody while someone waits for it.
//
// A new entry always comes after every live one, so an entry's place can
// only improve: once it holds, it holds until its key goes. An owner cut
// off from the hub for a whole lease loses its key; its Lease says so
// (Lost), and it must stop what it does under the lock.
package locks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultBucket is the key-value bucket locks are kept in.
const DefaultBucket = "fabric-locks"

// markerTTL is how long the server keeps the marker of a key that was
// released or expired: long enough that every watcher sees it, short
// enough that the bucket does not fill with them.
const markerTTL = time.Minute

// maxNameLen bounds lock names and owners (each a key token).
const maxNameLen = 64

// validName is what a lock name or an owner may be: one key token.
var validName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Errors, wrapped with detail.
var (
	// ErrBadSpec: a lock spec that is not NAME or NAME:N.
	ErrBadSpec = errors.New("bad lock")
	// ErrNoJetStream: the server has no JetStream, so no locks.
	ErrNoJetStream = errors.New("locks need JetStream on the hub")
	// ErrOwnerExists: the owner is already queued for or holding the lock.
	ErrOwnerExists = errors.New("already queued for the lock")
	// ErrLeaseLost: the owner's key went (it could not renew it for a whole
	// lease), so others may hold the lock now.
	ErrLeaseLost = errors.New("lock lease lost")
)

// Spec is a lock as asked for: its name and how many may hold it at once.
type Spec struct {
	Name string
	Max  int
}

// ParseSpec reads "NAME" (at most one holder) or "NAME:N".
func ParseSpec(s string) (Spec, error) {
	name, n, hasN := strings.Cut(strings.TrimSpace(s), ":")
	spec := Spec{Name: name, Max: 1}
	if hasN {
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 {
			return Spec{}, fmt.Errorf("%w %q: the count after ':' must be a whole number of at least 1", ErrBadSpec, s)
		}
		spec.Max = v
	}
	if err := spec.Validate(); err != nil {
		return Spec{}, err
	}
	return spec, nil
}

// Validate checks the name and the count.
func (s Spec) Validate() error {
	if err := validToken("lock name", s.Name); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSpec, err)
	}
	if s.Max < 1 {
		return fmt.Errorf("%w %s: at most %d holders: must be at least 1", ErrBadSpec, s.Name, s.Max)
	}
	return nil
}

// String is the spec as it is written: "build:2", or "build" for one holder.
func (s Spec) String() string {
	if s.Max == 1 {
		return s.Name
	}
	return s.Name + ":" + strconv.Itoa(s.Max)
}

func validToken(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%s is empty", what)
	case len(s) > maxNameLen:
		return fmt.Errorf("%s %.20q... is longer than %d characters", what, s, maxNameLen)
	case !validName.MatchString(s):
		return fmt.Errorf("%s %q: use letters, digits, '-' and '_' only", what, s)
	}
	return nil
}

// LeaseFor returns the lease and the renewal interval of a holder whose
// node heartbeats every heartbeat: a lease that ends within three
// heartbeat intervals of the holder's last sign of life (two and a half,
// in whole seconds as JetStream counts them, leaving room for the
// server's expiry and the watchers), renewed every half interval. A
// lease is never under a second: the server's smallest TTL.
func LeaseFor(heartbeat time.Duration) (lease, renew time.Duration) {
	lease = (heartbeat * 5 / 2).Truncate(time.Second)
	if lease < time.Second {
		lease = time.Second
	}
	renew = min(heartbeat/2, lease/3)
	return lease, renew
}

// Config configures a Store. The zero value works.
type Config struct {
	// Bucket is the key-value bucket; default DefaultBucket.
	Bucket string
	// Lease is how long an owner's key lives without a renewal, in whole
	// seconds (rounded down, at least 1 s); default that of LeaseFor with a
	// 2 s heartbeat.
	Lease time.Duration
	// Renew is how often owners renew; default a third of the lease.
	Renew time.Duration
	// Replicas is the bucket's replica count in a clustered JetStream.
	Replicas int
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Bucket == "" {
		c.Bucket = DefaultBucket
	}
	if c.Lease <= 0 {
		c.Lease, _ = LeaseFor(2 * time.Second)
	}
	c.Lease = max(c.Lease.Truncate(time.Second), time.Second)
	if c.Renew <= 0 || c.Renew > c.Lease/2 {
		c.Renew = c.Lease / 3
	}
	if c.Replicas < 1 {
		c.Replicas = 1
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Store is the lock bucket. It is safe for concurrent use and does not own
// its connection.
type Store struct {
	cfg    Config
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	prefix string // "$KV.<bucket>.": where keys are written
}

// Open returns the lock store of the server nc is connected to, creating
// the bucket (or updating it to cfg) as needed. Without JetStream it fails
// with ErrNoJetStream.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Store, error) {
	if nc == nil {
		return nil, errors.New("open locks: no NATS connection")
	}
	cfg = cfg.withDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("open locks: %w", err)
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return nil, fmt.Errorf("open locks: %w", ErrNoJetStream)
		}
		return nil, fmt.Errorf("open locks: ask for JetStream: %w", err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:         cfg.Bucket,
		Description:    "fabric cluster-wide locks: one key per holder or waiter, kept alive by its lease",
		History:        1,
		Storage:        jetstream.FileStorage,
		Replicas:       cfg.Replicas,
		LimitMarkerTTL: markerTTL,
	})
	if err != nil {
		bound, berr := js.KeyValue(ctx, cfg.Bucket)
		if berr != nil {
			return nil, fmt.Errorf("open locks: bucket %s: %w", cfg.Bucket, err)
		}
		cfg.Logger.Warn("lock bucket could not be created or updated; using it as it is", "bucket", cfg.Bucket, "err", err)
		kv = bound
	}
	return &Store{cfg: cfg, js: js, kv: kv, prefix: "$KV." + cfg.Bucket + "."}, nil
}

// Lease returns the lease of the store's owners.
func (s *Store) Lease() time.Duration { return s.cfg.Lease }

func key(lock, owner string) string { return lock + "." + owner }

// splitKey returns the lock and owner of a key.
func splitKey(k string) (lock, owner string, ok bool) {
	return strings.Cut(k, ".")
}

// isWrongSequence reports whether err is JetStream refusing a write whose
// expected last sequence did not match: the key changed or went.
func isWrongSequence(err error) bool {
	var api *jetstream.APIError
	if !errors.As(err, &api) {
		return false
	}
	return api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// OwnerSubjects returns what a client taking locks in the default bucket
// must be allowed to publish, with a NATS account that restricts it (the
// fabric node role): its keys, and the JetStream API of that bucket alone
// (bind or create it, watch it, read a key).
func OwnerSubjects() []string {
	return ownerSubjects(DefaultBucket)
}

func ownerSubjects(bucket string) []string {
	stream := "KV_" + bucket
	return []string{
		"$KV." + bucket + ".>",
		"$JS.API.INFO",
		"$JS.API.STREAM.INFO." + stream,
		"$JS.API.STREAM.CREATE." + stream,
		"$JS.API.STREAM.UPDATE." + stream,
		"$JS.API.CONSUMER.CREATE." + stream + ".>",
		"$JS.API.CONSUMER.DELETE." + stream + ".>",
		"$JS.API.DIRECT.GET." + stream + ".>",
		"$JS.API.STREAM.MSG.GET." + stream,
		"$JS.FC." + stream + ".>",
	}
}
