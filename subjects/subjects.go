// Package subjects is the NATS subject grammar of fabric: the one place that
// builds and parses the subjects front ends and nodes talk on.
//
// Every subject lives under a prefix (default "fabric"):
//
//	<prefix>.task.<os>.<arch>.<cap>.<node>  a task for one node (the front end's choice)
//	<prefix>.task.<os>.<arch>.<cap>         a task for any matching node (one queue group)
//	<prefix>.heartbeat.<node>               periodic node state
//	<prefix>.ping                           ask every node for its state at once
//	<prefix>.cancel.<node>                  cancel a task running on a node
//	<prefix>.output.<task>                  a detached task's output, for followers
//
// Tokens (os, arch, capability, node) are lowercase [a-z0-9_-]: never '.', '*',
// '>' or white space. A builder given an invalid token returns an error rather
// than a subject that would silently match something else.
package subjects

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultPrefix is the prefix every subject starts with unless configured.
const DefaultPrefix = "fabric"

// AnyCapability is the capability token every node subscribes to: a task that
// needs no particular capability is published with it.
const AnyCapability = "any"

// WithoutAny returns caps without AnyCapability, which every node has: the
// capabilities worth showing.
func WithoutAny(caps []string) []string {
	out := make([]string, 0, len(caps))
	for _, c := range caps {
		if c != AnyCapability {
			out = append(out, c)
		}
	}
	return out
}

// QueueGroup is the queue group every node joins on the "any matching node"
// task subjects, so that each such task is delivered to exactly one node.
const QueueGroup = "fabric-workers"

// MaxTokenLen bounds a token's length; NATS has no such limit, but a subject
// built of runaway tokens is a bug, not a name.
const MaxTokenLen = 64

// Verbs: the second token of every subject.
const (
	verbTask      = "task"
	verbHeartbeat = "heartbeat"
	verbPing      = "ping"
	verbCancel    = "cancel"
	verbOutput    = "output"
)

// Errors returned by the builders and parsers. They are wrapped with the
// offending token or subject; test with errors.Is.
var (
	ErrInvalidToken   = errors.New("invalid subject token")
	ErrInvalidPrefix  = errors.New("invalid subject prefix")
	ErrNotFabric      = errors.New("subject is not under the fabric prefix")
	ErrUnknownSubject = errors.New("unknown fabric subject")
)

// Kind says which of the fabric subjects a parsed subject is.
type Kind uint8

// The kinds of subject.
const (
	KindInvalid   Kind = iota
	KindTask           // <prefix>.task.<os>.<arch>.<cap>.<node>
	KindTaskAny        // <prefix>.task.<os>.<arch>.<cap>
	KindHeartbeat      // <prefix>.heartbeat.<node>
	KindPing           // <prefix>.ping
	KindCancel         // <prefix>.cancel.<node>
	KindOutput         // <prefix>.output.<task>
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindTask:
		return "task"
	case KindTaskAny:
		return "task-any"
	case KindHeartbeat:
		return "heartbeat"
	case KindPing:
		return "ping"
	case KindCancel:
		return "cancel"
	case KindOutput:
		return "output"
	default:
		return "invalid"
	}
}

// Subject is a parsed fabric subject. Fields a kind does not use are empty.
type Subject struct {
	Kind       Kind
	OS         string
	Arch       string
	Capability string
	Node       string
	Task       string
}

// Space builds and parses subjects under one prefix. The zero value is not
// usable; use New or Default. A Space is immutable and safe for concurrent use.
type Space struct {
	prefix string // e.g. "fabric"
	dotted string // prefix + "."
}

// Default returns the Space under DefaultPrefix.
func Default() Space {
	return Space{prefix: DefaultPrefix, dotted: DefaultPrefix + "."}
}

// New returns the Space under prefix, which is one or more valid tokens joined
// by dots (for example "fabric" or "acme.fabric"). An empty prefix means
// DefaultPrefix.
func New(prefix string) (Space, error) {
	if prefix == "" {
		return Default(), nil
	}
	for _, tok := range strings.Split(prefix, ".") {
		if err := ValidToken(tok); err != nil {
			return Space{}, fmt.Errorf("%w %q: %w", ErrInvalidPrefix, prefix, err)
		}
	}
	return Space{prefix: prefix, dotted: prefix + "."}, nil
}

// Prefix returns the prefix of the space.
func (s Space) Prefix() string { return s.prefix }

// Task returns the subject of a task addressed to one node, published on the
// node's subscription for capability (use AnyCapability when the task needs
// none).
func (s Space) Task(os, arch, capability, node string) (string, error) {
	if err := validTokens(os, arch, capability, node); err != nil {
		return "", err
	}
	return s.join(verbTask, os, arch, capability, node), nil
}

// TaskAny returns the subject of a task for any node matching os, arch and
// capability; nodes subscribe to it in QueueGroup.
func (s Space) TaskAny(os, arch, capability string) (string, error) {
	if err := validTokens(os, arch, capability); err != nil {
		return "", err
	}
	return s.join(verbTask, os, arch, capability), nil
}

// Heartbeat returns the subject node publishes its heartbeats on.
func (s Space) Heartbeat(node string) (string, error) {
	if err := ValidToken(node); err != nil {
		return "", err
	}
	return s.join(verbHeartbeat, node), nil
}

// Cancel returns the subject node listens on for cancellations.
func (s Space) Cancel(node string) (string, error) {
	if err := ValidToken(node); err != nil {
		return "", err
	}
	return s.join(verbCancel, node), nil
}

// Output returns the subject a node streams a detached task's output to.
func (s Space) Output(task string) (string, error) {
	if err := ValidToken(task); err != nil {
		return "", err
	}
	return s.join(verbOutput, task), nil
}

// Ping returns the subject every node answers with its heartbeat.
func (s Space) Ping() string { return s.join(verbPing) }

// AllHeartbeats returns the wildcard subject matching every node's heartbeats.
func (s Space) AllHeartbeats() string { return s.join(verbHeartbeat, "*") }

// AllTasks returns the wildcard subject matching every task subject (both
// kinds), for permissions and monitoring.
func (s Space) AllTasks() string { return s.join(verbTask, ">") }

// AllCancels returns the wildcard subject matching every cancel subject.
func (s Space) AllCancels() string { return s.join(verbCancel, "*") }

// Format builds the subject described by sub: the inverse of Parse.
func (s Space) Format(sub Subject) (string, error) {
	switch sub.Kind {
	case KindTask:
		return s.Task(sub.OS, sub.Arch, sub.Capability, sub.Node)
	case KindTaskAny:
		return s.TaskAny(sub.OS, sub.Arch, sub.Capability)
	case KindHeartbeat:
		return s.Heartbeat(sub.Node)
	case KindPing:
		return s.Ping(), nil
	case KindCancel:
		return s.Cancel(sub.Node)
	case KindOutput:
		return s.Output(sub.Task)
	default:
		return "", fmt.Errorf("format: %w: kind %d", ErrUnknownSubject, sub.Kind)
	}
}

// Parse parses a concrete (wildcard-free) subject of this space.
func (s Space) Parse(subject string) (Subject, error) {
	rest, ok := strings.CutPrefix(subject, s.dotted)
	if !ok {
		return Subject{}, fmt.Errorf("%w %q: %q", ErrNotFabric, s.prefix, subject)
	}
	// At most five tokens follow the prefix; split into an array on the
	// stack rather than a slice on the heap.
	var arr [5]string
	n := 0
	for {
		tok, more, found := strings.Cut(rest, ".")
		if err := ValidToken(tok); err != nil {
			return Subject{}, fmt.Errorf("parse %q: %w", subject, err)
		}
		if n < len(arr) {
			arr[n] = tok
		}
		n++
		if !found {
			break
		}
		rest = more
	}
	if n > len(arr) {
		return Subject{}, fmt.Errorf("%w: %q", ErrUnknownSubject, subject)
	}
	toks := arr[:n]
	switch {
	case toks[0] == verbTask && len(toks) == 5:
		return Subject{Kind: KindTask, OS: toks[1], Arch: toks[2], Capability: toks[3], Node: toks[4]}, nil
	case toks[0] == verbTask && len(toks) == 4:
		return Subject{Kind: KindTaskAny, OS: toks[1], Arch: toks[2], Capability: toks[3]}, nil
	case toks[0] == verbHeartbeat && len(toks) == 2:
		return Subject{Kind: KindHeartbeat, Node: toks[1]}, nil
	case toks[0] == verbPing && len(toks) == 1:
		return Subject{Kind: KindPing}, nil
	case toks[0] == verbCancel && len(toks) == 2:
		return Subject{Kind: KindCancel, Node: toks[1]}, nil
	case toks[0] == verbOutput && len(toks) == 2:
		return Subject{Kind: KindOutput, Task: toks[1]}, nil
	}
	return Subject{}, fmt.Errorf("%w: %q", ErrUnknownSubject, subject)
}

// join concatenates the prefix and tokens with dots in one allocation.
func (s Space) join(toks ...string) string {
	n := len(s.dotted) + len(toks) - 1
	for _, t := range toks {
		n += len(t)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(s.dotted)
	for i, t := range toks {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(t)
	}
	return b.String()
}

func validTokens(toks ...string) error {
	for _, t := range toks {
		if err := ValidToken(t); err != nil {
			return err
		}
	}
	return nil
}

// ValidToken reports whether t is a valid fabric token: 1 to MaxTokenLen
// characters of [a-z0-9_-].
func ValidToken(t string) error {
	if t == "" {
		return fmt.Errorf("%w: empty", ErrInvalidToken)
	}
	if len(t) > MaxTokenLen {
		return fmt.Errorf("%w %q: longer than %d characters", ErrInvalidToken, t, MaxTokenLen)
	}
	for i := 0; i < len(t); i++ {
		if !tokenByte(t[i]) {
			return fmt.Errorf("%w %q: character %q is not one of [a-z0-9_-]", ErrInvalidToken, t, t[i])
		}
	}
	return nil
}

func tokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
