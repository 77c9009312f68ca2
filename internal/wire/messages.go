// Package wire defines the messages fabric components exchange over NATS and
// their encodings: msgpack between fabric components (marked by a
// Content-Type header), and JSON or plain text for people and scripts.
//
// Every message carries a version (V). A decoder accepts V up to MaxVersion
// and ignores fields it does not know; a message from a newer protocol is
// refused with ErrUnknownVersion rather than misread. A message is stamped
// with the oldest version that can carry it, so older peers keep working
// with everything they understand.
package wire

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Version is the protocol version messages are stamped with unless they
// need a newer one (see TaskV2).
const Version = 1

// Kind names a message type; it travels in the HeaderKind header.
type Kind string

// The message kinds.
const (
	KindTask      Kind = "task"
	KindAck       Kind = "ack"
	KindChunk     Kind = "chunk"
	KindResult    Kind = "result"
	KindHeartbeat Kind = "heartbeat"
	KindCancel    Kind = "cancel"
)

// Message is implemented by every wire message.
type Message interface {
	// Kind returns the message's type.
	Kind() Kind
	// version returns the V field.
	version() int
	// stamp sets the V field to Version.
	stamp()
}

// Requirements are what a task needs of the node that runs it. Empty fields
// match anything.
type Requirements struct {
	OS           string   `msgpack:"os,omitempty" json:"os,omitempty"`
	Arch         string   `msgpack:"arch,omitempty" json:"arch,omitempty"`
	Capabilities []string `msgpack:"caps,omitempty" json:"capabilities,omitempty"`
	Node         string   `msgpack:"node,omitempty" json:"node,omitempty"`
}

// String renders the requirements for people: "os=linux arch=amd64 caps=docker".
func (r Requirements) String() string {
	var parts []string
	if r.OS != "" {
		parts = append(parts, "os="+r.OS)
	}
	if r.Arch != "" {
		parts = append(parts, "arch="+r.Arch)
	}
	if len(r.Capabilities) > 0 {
		parts = append(parts, "caps="+strings.Join(r.Capabilities, ","))
	}
	if r.Node != "" {
		parts = append(parts, "node="+r.Node)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// Task asks a node to run a command.
type Task struct {
	V  int    `msgpack:"v" json:"v,omitempty"`
	ID string `msgpack:"id" json:"id,omitempty"`
	// Command is run by the node's shell (bash if present, else sh).
	Command string `msgpack:"cmd,omitempty" json:"command,omitempty"`
	// Argv, when Command is empty, is run directly with no shell.
	Argv []string          `msgpack:"argv,omitempty" json:"argv,omitempty"`
	Cwd  string            `msgpack:"cwd,omitempty" json:"cwd,omitempty"`
	Env  map[string]string `msgpack:"env,omitempty" json:"env,omitempty"`
	// Timeout bounds the run; zero means the node's default.
	Timeout Duration `msgpack:"timeout,omitempty" json:"timeout,omitempty"`
	// OutputLimit caps the bytes kept of each stream; zero means the node's default.
	OutputLimit int64        `msgpack:"outlim,omitempty" json:"output_limit,omitempty"`
	Requires    Requirements `msgpack:"req,omitempty" json:"requires,omitzero"`
	Submitted   time.Time    `msgpack:"at,omitempty" json:"submitted,omitzero"`
	// ResultTo, if set, is a subject the node also publishes the final
	// result to (msgpack), so that a task record is completed even when the
	// front end that submitted the task is gone.
	ResultTo string `msgpack:"rto,omitempty" json:"result_to,omitempty"`
	// OutputTo, if set, is a subject the node also streams output chunks
	// to (no flow control), so any front end can follow a detached task.
	OutputTo string `msgpack:"oto,omitempty" json:"output_to,omitempty"`
	// Signer and Signature authenticate the task where nodes require it.
	Signer    string `msgpack:"signer,omitempty" json:"signer,omitempty"`
	Signature []byte `msgpack:"sig,omitempty" json:"signature,omitempty"`
	// TaskV2 holds what a task may ask beyond running a command (locks,
	// GPUs, an idle timeout, standard input): a task that uses any of it
	// is stamped version 2, which older nodes refuse instead of ignoring.
	TaskV2 `msgpack:",inline"`
}

// Kind implements Message.
func (*Task) Kind() Kind     { return KindTask }
func (t *Task) version() int { return t.V }
func (t *Task) stamp()       { t.V = t.version2() }

// Display returns the command as people would type it.
func (t *Task) Display() string {
	if t.Command != "" {
		return t.Command
	}
	q := make([]string, len(t.Argv))
	for i, a := range t.Argv {
		q[i] = strconv.Quote(a)
	}
	return strings.Join(q, " ")
}

// AckStatus is a node's first answer to a task.
type AckStatus string

// The ack statuses. Only AckAccepted means the task started (or will start at
// once); after any other the front end may safely try another node.
const (
	AckAccepted AckStatus = "accepted"
	AckBusy     AckStatus = "busy"
	AckDraining AckStatus = "draining"
	AckRejected AckStatus = "rejected"
)

// Ack is a node's immediate answer to a task.
type Ack struct {
	V        int       `msgpack:"v" json:"v,omitempty"`
	ID       string    `msgpack:"id" json:"id"`
	Node     string    `msgpack:"node" json:"node"`
	Instance string    `msgpack:"inst,omitempty" json:"instance,omitempty"`
	Status   AckStatus `msgpack:"status" json:"status"`
	// Error classifies a refusal (ErrRejected, ErrBadRequest, ...).
	Error  ErrorKind `msgpack:"err,omitempty" json:"error,omitempty"`
	Reason string    `msgpack:"reason,omitempty" json:"reason,omitempty"`
	// Queued, on an accepted task that does not start at once, says what
	// it waits for ("waiting for lock build (2 ahead)"); Progress messages
	// follow.
	Queued string `msgpack:"queued,omitempty" json:"queued,omitempty"`
}

// Kind implements Message.
func (*Ack) Kind() Kind     { return KindAck }
func (a *Ack) version() int { return a.V }
func (a *Ack) stamp()       { a.V = Version }

// Stream identifies an output stream.
type Stream uint8

// The output streams.
const (
	Stdout Stream = 1
	Stderr Stream = 2
)

// String names the stream.
func (s Stream) String() string {
	switch s {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	}
	return "stream(" + strconv.Itoa(int(s)) + ")"
}

// Chunk is a piece of a running task's output, streamed in order. A chunk
// that carries a NATS reply subject asks the receiver to answer once it has
// consumed everything up to it: the node's flow control.
type Chunk struct {
	V      int    `msgpack:"v" json:"v,omitempty"`
	ID     string `msgpack:"id" json:"id"`
	Stream Stream `msgpack:"s" json:"stream"`
	Seq    uint64 `msgpack:"n" json:"seq"`
	Data   []byte `msgpack:"d" json:"data"`
}

// Kind implements Message.
func (*Chunk) Kind() Kind     { return KindChunk }
func (c *Chunk) version() int { return c.V }
func (c *Chunk) stamp()       { c.V = Version }

// ErrorKind classifies why a task did not run or did not finish.
type ErrorKind string

// The error kinds. A result whose Error is empty ran to completion; its
// ExitCode says how the command fared.
const (
	ErrNone        ErrorKind = ""
	ErrBadRequest  ErrorKind = "bad_request"  // the message could not be understood
	ErrRejected    ErrorKind = "rejected"     // refused by policy (guard, signature); no node will run it
	ErrMismatch    ErrorKind = "mismatch"     // this node does not meet the requirements; another may
	ErrBusy        ErrorKind = "busy"         // every slot taken
	ErrDraining    ErrorKind = "draining"     // the node is shutting down
	ErrStartFailed ErrorKind = "start_failed" // the process could not be started
	ErrTimeout     ErrorKind = "timeout"      // killed at its timeout
	ErrCancelled   ErrorKind = "cancelled"    // cancelled by request
	ErrNodeLost    ErrorKind = "node_lost"    // the node stopped heartbeating after accepting
	ErrNoMatch     ErrorKind = "no_match"     // no node meets the requirements
	ErrUnknownNode ErrorKind = "unknown_node" // the named node is not known
	ErrUnavailable ErrorKind = "unavailable"  // no node accepted the task
)

// Result is the outcome of a task.
type Result struct {
	V        int    `msgpack:"v" json:"v,omitempty"`
	ID       string `msgpack:"id" json:"id"`
	Node     string `msgpack:"node,omitempty" json:"node,omitempty"`
	ExitCode int    `msgpack:"exit" json:"exit_code"`
	// Signal names the signal that ended the process, if one did.
	Signal string `msgpack:"sig,omitempty" json:"signal,omitempty"`
	// Stdout and Stderr hold the kept part of each stream: all of it up to
	// the output limit; past it, its head and tail around a marker line.
	Stdout          string    `msgpack:"out,omitempty" json:"stdout"`
	Stderr          string    `msgpack:"errout,omitempty" json:"stderr"`
	StdoutBytes     int64     `msgpack:"outn,omitempty" json:"stdout_bytes"`
	StderrBytes     int64     `msgpack:"errn,omitempty" json:"stderr_bytes"`
	StdoutTruncated bool      `msgpack:"outt,omitempty" json:"stdout_truncated,omitempty"`
	StderrTruncated bool      `msgpack:"errt,omitempty" json:"stderr_truncated,omitempty"`
	Started         time.Time `msgpack:"start,omitempty" json:"started,omitzero"`
	Duration        Duration  `msgpack:"dur,omitempty" json:"duration"`
	Error           ErrorKind `msgpack:"err,omitempty" json:"error,omitempty"`
	Message         string    `msgpack:"msg,omitempty" json:"message,omitempty"`
}

// Kind implements Message.
func (*Result) Kind() Kind     { return KindResult }
func (r *Result) version() int { return r.V }
func (r *Result) stamp()       { r.V = Version }

// Ran reports whether the command ran to completion (whatever its exit code).
func (r *Result) Ran() bool { return r.Error == ErrNone }

// Succeeded reports whether there is a result and its command ran to
// completion with exit code 0.
func (r *Result) Succeeded() bool { return r != nil && r.Ran() && r.ExitCode == 0 }

// Node states reported in heartbeats.
const (
	StateReady    = "ready"
	StateDraining = "draining"
	StateLeaving  = "leaving"
)

// Heartbeat is a node's periodic report of itself.
type Heartbeat struct {
	V        int    `msgpack:"v" json:"v,omitempty"`
	Node     string `msgpack:"node" json:"node"`
	Instance string `msgpack:"inst" json:"instance"`
	Hostname string `msgpack:"host" json:"hostname"`
	OS       string `msgpack:"os" json:"os"`
	Arch     string `msgpack:"arch" json:"arch"`
	// Capabilities always include "any".
	Capabilities []string `msgpack:"caps" json:"capabilities"`
	CPUPercent   float64  `msgpack:"cpu" json:"cpu_percent"`
	MemPercent   float64  `msgpack:"mem" json:"mem_percent"`
	Load1        float64  `msgpack:"l1" json:"load1"`
	Load5        float64  `msgpack:"l5" json:"load5"`
	Load15       float64  `msgpack:"l15" json:"load15"`
	CPUs         int      `msgpack:"cpus" json:"cpus"`
	Running      int      `msgpack:"run" json:"running"`
	// Tasks are the ids of the running tasks.
	Tasks   []string  `msgpack:"tasks,omitempty" json:"tasks,omitempty"`
	Slots   int       `msgpack:"slots" json:"slots"`
	State   string    `msgpack:"state" json:"state"`
	Version string    `msgpack:"ver" json:"version"`
	Time    time.Time `msgpack:"t" json:"time"`
	// Interval is the time to the next heartbeat.
	Interval Duration `msgpack:"ivl" json:"interval"`
	// GPUs is how many GPUs the node hands out, GPUsFree how many no task
	// holds.
	GPUs     int `msgpack:"gpus,omitempty" json:"gpus,omitempty"`
	GPUsFree int `msgpack:"gpuf,omitempty" json:"gpus_free,omitempty"`
	// Full lists the capabilities the node takes no more tasks for now:
	// at their limit on the node, or (gpu) with no GPU free.
	Full []string `msgpack:"full,omitempty" json:"full,omitempty"`
}

// Kind implements Message.
func (*Heartbeat) Kind() Kind     { return KindHeartbeat }
func (h *Heartbeat) version() int { return h.V }
func (h *Heartbeat) stamp()       { h.V = Version }

// HasCapability reports whether the node has capability c.
func (h *Heartbeat) HasCapability(c string) bool {
	for _, have := range h.Capabilities {
		if have == c {
			return true
		}
	}
	return false
}

// Cancel asks a node to stop a running task.
type Cancel struct {
	V      int    `msgpack:"v" json:"v,omitempty"`
	ID     string `msgpack:"id" json:"id"`
	Reason string `msgpack:"reason,omitempty" json:"reason,omitempty"`
	// Offer, if set, cancels only that offer of the task (HeaderOffer): a
	// front end gave up on it, and may offer the task here again.
	Offer string `msgpack:"offer,omitempty" json:"offer,omitempty"`
}

// Kind implements Message.
func (*Cancel) Kind() Kind     { return KindCancel }
func (c *Cancel) version() int { return c.V }
func (c *Cancel) stamp()       { c.V = Version }

// Duration is a time.Duration that travels as nanoseconds in msgpack and, in
// JSON, as a Go duration string ("1m30s"); JSON input may also be a number of
// seconds.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case float64:
		*d = Duration(x * float64(time.Second))
		return nil
	case string:
		p, err := time.ParseDuration(x)
		if err != nil {
			return fmt.Errorf("duration %q: %w", x, err)
		}
		*d = Duration(p)
		return nil
	}
	return fmt.Errorf("duration: want a string like \"30s\" or a number of seconds, got %s", b)
}

// NewTaskID returns a new unique task id: 20 characters of [a-z0-9] from
// crypto/rand (103 bits), a valid subject token.
func NewTaskID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}
