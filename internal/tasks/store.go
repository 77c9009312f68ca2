// Package tasks keeps a record of every task fabric runs, so its status can
// be read from any front end: after the front end that submitted it has
// exited, and even when that front end was killed while the task ran.
//
// A task has two values, under separate keys so their writers never
// overwrite each other: its Record, written by the front end (what was asked,
// where it went, how far it got), and its final wire.Result, written once
// either by the front end (PutResult) or by the node itself, which publishes
// the result on ResultSubject with a plain NATS publish.
//
// Open keeps both in a JetStream key-value bucket when the server has
// JetStream (the embedded hub has), and otherwise falls back to memory,
// saying so through Store.Backend. Values expire MaxAge after they were
// written, in both stores.
package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/fabric-run/fabric/internal/wire"
)

// State is where a task stands.
type State string

// The task states. Queued and running are the states of a task in progress;
// the others are final.
const (
	StateQueued    State = "queued"    // recorded, not started on a node yet
	StateRunning   State = "running"   // accepted by a node
	StateDone      State = "done"      // ran and exited 0
	StateFailed    State = "failed"    // did not run, or ran and failed (non-zero exit, timeout)
	StateCancelled State = "cancelled" // cancelled by request
	StateLost      State = "lost"      // its node stopped heartbeating while it ran
)

// Final reports whether s is a state a task does not leave.
func (s State) Final() bool {
	switch s {
	case StateDone, StateFailed, StateCancelled, StateLost:
		return true
	}
	return false
}

// Record is what the front end knows of a task: the task less its
// environment (a task's Env may carry secrets, and records are readable by
// every front end), and where it went, how far it got.
//
// Its task fields are the wire.Task's own (the same names and encodings),
// copied by RecordOf alone. The record does not embed the task: that would
// add the task's other fields (timeout, subjects, signature) to every
// stored record and to fabric status --json, and risk the environment.
type Record struct {
	ID string `msgpack:"id" json:"id"`
	// Command is run by the node's shell; Argv, when Command is empty, with
	// no shell.
	Command  string            `msgpack:"cmd,omitempty" json:"command,omitempty"`
	Argv     []string          `msgpack:"argv,omitempty" json:"argv,omitempty"`
	Cwd      string            `msgpack:"cwd,omitempty" json:"cwd,omitempty"`
	Requires wire.Requirements `msgpack:"req,omitempty" json:"requires,omitzero"`
	// Node is where the task runs or ran; empty while queued.
	Node string `msgpack:"node,omitempty" json:"node,omitempty"`
	// Instance is the node's instance when it accepted the task: a node
	// that restarted has a new one, and the task died with the old.
	Instance string `msgpack:"inst,omitempty" json:"instance,omitempty"`
	// Via is how it got there: wire.ViaNATS or wire.ViaSSH.
	Via string `msgpack:"via,omitempty" json:"via,omitempty"`
	// Reason says in one line why the task went where it went.
	Reason string `msgpack:"reason,omitempty" json:"reason,omitempty"`
	// Background is set for tasks submitted without waiting for them.
	Background bool `msgpack:"bg,omitempty" json:"background,omitempty"`
	// State is the state the front end last wrote; StateOf gives the state
	// to show, which a result overrides.
	State     State     `msgpack:"state" json:"state"`
	Submitted time.Time `msgpack:"at,omitempty" json:"submitted,omitzero"`
	Started   time.Time `msgpack:"start,omitempty" json:"started,omitzero"`
	Finished  time.Time `msgpack:"end,omitempty" json:"finished,omitzero"`
	// Error and Message say why the task did not run or did not finish,
	// when it did not.
	Error   wire.ErrorKind `msgpack:"err,omitempty" json:"error,omitempty"`
	Message string         `msgpack:"msg,omitempty" json:"message,omitempty"`
	// Locks are the cluster-wide locks the task takes before it starts.
	Locks []string `msgpack:"locks,omitempty" json:"locks,omitempty"`
	// Waiting says what an accepted task waits for before it starts
	// ("waiting for lock build (2 ahead)"), while it does.
	Waiting string `msgpack:"wait,omitempty" json:"waiting,omitempty"`
	// Key is the task's idempotency key, if it was given one.
	Key string `msgpack:"key,omitempty" json:"key,omitempty"`
	// Attempts are the earlier tries of a task that was retried, oldest
	// first: where each went and how it ended.
	Attempts []Attempt `msgpack:"att,omitempty" json:"attempts,omitempty"`
}

// Attempt is one try of a retried task.
type Attempt struct {
	Node    string         `msgpack:"node,omitempty" json:"node,omitempty"`
	At      time.Time      `msgpack:"at,omitempty" json:"at,omitzero"`
	Error   wire.ErrorKind `msgpack:"err,omitempty" json:"error,omitempty"`
	Message string         `msgpack:"msg,omitempty" json:"message,omitempty"`
}

// RecordOf returns the record of task t as submitted (queued, no node
// yet): every field of the task a record keeps, never its environment.
func RecordOf(t *wire.Task) Record {
	return Record{ID: t.ID, Command: t.Command, Argv: t.Argv, Cwd: t.Cwd, Requires: t.Requires, Submitted: t.Submitted, Locks: t.Locks}
}

// Display is the task's command for people: the command line, or the argv
// quoted.
func (r *Record) Display() string {
	return (&wire.Task{Command: r.Command, Argv: r.Argv}).Display()
}

// Backend names.
const (
	BackendJetStream = "jetstream"
	BackendMemory    = "memory"
)

// Defaults for Config.
const (
	DefaultBucket = "fabric-tasks"
	DefaultMaxAge = 7 * 24 * time.Hour
	// DefaultMaxValueSize bounds the memory store's values when nothing else
	// does: NATS's own default max payload.
	DefaultMaxValueSize = 1 << 20

	minValueSize = 4 << 10
)

// Config configures a Store. The zero value works.
type Config struct {
	// Bucket is the JetStream key-value bucket ([A-Za-z0-9_-]); default
	// DefaultBucket.
	Bucket string
	// MaxAge is how long a value is kept after it was written; zero or
	// less means DefaultMaxAge. JetStream takes no less than 100ms.
	MaxAge time.Duration
	// Replicas is the bucket's replica count in a clustered JetStream, up
	// to 5; zero or less means 1.
	Replicas int
	// MaxValueSize bounds each stored value, like a message's max payload
	// (Headroom of it is left for headers). Zero means the server's max
	// payload (Open) or DefaultMaxValueSize (NewMemory); with JetStream it
	// is never more than the max payload, and it is never under 4 KiB.
	MaxValueSize int
	// Now is the clock: it stamps Submitted in Create and, in the memory
	// store, decides expiry. Default time.Now.
	Now func() time.Time
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
}

// withDefaults returns c with every zero (or negative) field set to its
// default.
func (c Config) withDefaults() Config {
	if c.Bucket == "" {
		c.Bucket = DefaultBucket
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.MaxValueSize > 0 {
		c.MaxValueSize = max(c.MaxValueSize, minValueSize)
	} else {
		c.MaxValueSize = 0
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate checks what only the JetStream store uses.
func (c Config) validate() error {
	if !validBucket.MatchString(c.Bucket) {
		return fmt.Errorf("tasks: bucket %q: want [A-Za-z0-9_-]", c.Bucket)
	}
	if c.Replicas > 5 {
		return fmt.Errorf("tasks: Replicas %d: want 1 to 5", c.Replicas)
	}
	return nil
}

// Store keeps task records and results. Implementations are safe for
// concurrent use. After Close every method that reads or writes returns
// ErrClosed.
type Store interface {
	// Create stores a new record. It fails with ErrExists if the id is
	// taken. A zero Submitted is set to now and an empty State to
	// StateQueued, in rec itself.
	Create(ctx context.Context, rec *Record) error
	// Update replaces an existing record; ErrNotFound if there is none (it
	// never brings back an expired record).
	Update(ctx context.Context, rec *Record) error
	// Get returns the record and, once there is one, the result (nil until
	// then). A task whose record has expired or was never written but
	// whose result exists gets a record made from the result. ErrNotFound
	// when there is neither. Callers show StateOf(rec, res).
	Get(ctx context.Context, id string) (*Record, *wire.Result, error)
	// PutResult stores the final result, its output trimmed to fit the
	// store's value size (see TrimResult). It does not modify res.
	PutResult(ctx context.Context, res *wire.Result) error
	// ResultSubject is the subject a node publishes a task's final result
	// on (msgpack wire.Result with Content-Type application/msgpack, or a
	// JSON object) with a plain core-NATS publish, so the store captures it
	// even when no front end is left to receive it. Empty for the memory
	// store and for an invalid id.
	ResultSubject(id string) string
	// WaitResult blocks until the task has a result and returns it. It
	// returns ctx's error when ctx ends and ErrClosed when the store is
	// closed first.
	WaitResult(ctx context.Context, id string) (*wire.Result, error)
	// List returns up to limit records (all when limit <= 0), newest
	// submitted first.
	List(ctx context.Context, limit int) ([]*Record, error)
	// ClaimKey makes idempotency key name task id unless it already names
	// a task, and returns the task it names: id if this call claimed it,
	// another task's id if that was first (within MaxAge of its claim).
	// Of concurrent claims of one key, exactly one wins.
	ClaimKey(ctx context.Context, key, id string) (string, error)
	// Backend is BackendJetStream or BackendMemory.
	Backend() string
	// Close releases the store and wakes its waiters; it does not close
	// the NATS connection. Safe to call twice.
	Close() error
}

// Errors, wrapped with the operation that failed.
var (
	ErrNotFound  = errors.New("task not found")
	ErrExists    = errors.New("task id already exists")
	ErrInvalidID = errors.New("invalid task id")
	ErrTooLarge  = errors.New("value too large")
	ErrClosed    = errors.New("task store closed")
)

var (
	validID     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	validBucket = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
)

// checkID returns an ErrInvalidID error for an id that cannot be a key.
func checkID(op, id string) error {
	if !validID.MatchString(id) {
		return fmt.Errorf("%s %q: %w: want 1 to 64 of [A-Za-z0-9_-]", op, id, ErrInvalidID)
	}
	return nil
}

// Keys of a task's values: its record and its result.
func recordKey(id string) string { return "rec." + id }
func resultKey(id string) string { return "res." + id }

// StateOf returns the state a reader should be shown. A result decides:
// done when the command ran and exited 0; failed when it ran with a non-zero
// exit or a signal, timed out, could not start or never ran; cancelled; lost
// when its node was lost. Without a result it is the record's state (queued
// if unset); with neither, "".
func StateOf(rec *Record, res *wire.Result) State {
	if res != nil {
		switch res.Error {
		case wire.ErrNone:
			if res.ExitCode == 0 && res.Signal == "" {
				return StateDone
			}
			return StateFailed
		case wire.ErrCancelled:
			return StateCancelled
		case wire.ErrNodeLost:
			return StateLost
		default:
			return StateFailed
		}
	}
	if rec == nil {
		return ""
	}
	if rec.State == "" {
		return StateQueued
	}
	return rec.State
}

// recordFromResult stands in for a record that is gone (or was never
// written) when the task's result is there.
func recordFromResult(id string, res *wire.Result) *Record {
	rec := &Record{
		ID:      id,
		Node:    res.Node,
		Started: res.Started,
		Error:   res.Error,
		Message: res.Message,
	}
	if !res.Started.IsZero() {
		rec.Finished = res.Started.Add(res.Duration.D())
	}
	rec.State = StateOf(rec, res)
	return rec
}
