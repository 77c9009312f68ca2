package wire

import "time"

// MaxVersion is the newest protocol version this build reads.
const MaxVersion = 2

// Version 2 adds what a task may ask of its node beyond running a command,
// the messages that go with it, and the ways such a task can end.

// The message kinds of version 2.
const (
	// KindProgress: a node says an accepted task is waiting before it
	// starts (for a lock), or has started.
	KindProgress Kind = "progress"
	// KindInputWant: a node asks for more of a task's standard input.
	KindInputWant Kind = "want"
	// KindInput: a piece of a task's standard input.
	KindInput Kind = "input"
)

// The error kinds of version 2.
const (
	ErrIdleTimeout ErrorKind = "idle_timeout" // killed after printing nothing for its idle timeout
	ErrLockTimeout ErrorKind = "lock_timeout" // waited its lock timeout for a lock, never started
	ErrLockLost    ErrorKind = "lock_lost"    // killed: its node could not keep its lock (cut off from the hub)
)

// TaskV2 is what a task may ask beyond running a command. A task that sets
// any of it is stamped version 2.
type TaskV2 struct {
	// Locks are cluster-wide locks ("NAME" or "NAME:N") the node takes,
	// in name order, after accepting the task and before starting it.
	Locks []string `msgpack:"locks,omitempty" json:"locks,omitempty"`
	// LockTimeout bounds the wait for the locks; zero waits as long as it
	// takes. Lock waits never count against Timeout.
	LockTimeout Duration `msgpack:"lockto,omitempty" json:"lock_timeout,omitempty"`
	// GPUs is how many GPU devices the task gets (CUDA_VISIBLE_DEVICES);
	// zero means one if it requires the gpu capability, else none.
	GPUs int `msgpack:"gpus,omitempty" json:"gpus,omitempty"`
	// IdleTimeout kills the command once it has printed nothing (on
	// either stream) for this long; zero means no idle timeout.
	IdleTimeout Duration `msgpack:"idle,omitempty" json:"idle_timeout,omitempty"`
	// Stdin is the command's whole standard input, sent with the task
	// (JSON: base64); the command reads end of file after it.
	Stdin []byte `msgpack:"stdin,omitempty" json:"stdin,omitempty"`
	// StdinStream says the submitter streams the standard input: the node
	// asks for it (InputWant) on the task's reply subject.
	StdinStream bool `msgpack:"stdins,omitempty" json:"stdin_stream,omitempty"`
}

// IsZero reports whether t asks for nothing beyond version 1.
func (t *TaskV2) IsZero() bool {
	return len(t.Locks) == 0 && t.LockTimeout == 0 && t.GPUs == 0 && t.IdleTimeout == 0 &&
		len(t.Stdin) == 0 && !t.StdinStream
}

// version2 is the version a task is stamped with.
func (t *Task) version2() int {
	if t.TaskV2.IsZero() {
		return Version
	}
	return 2
}

// Progress states.
const (
	ProgressWaiting = "waiting" // accepted, waiting for its locks
	ProgressStarted = "started" // its command started
)

// Progress tells a task's submitter and followers how far an accepted task
// got before its result: waiting (and for what), then started.
type Progress struct {
	V     int    `msgpack:"v" json:"v,omitempty"`
	ID    string `msgpack:"id" json:"id"`
	Node  string `msgpack:"node" json:"node"`
	State string `msgpack:"state" json:"state"`
	// Reason says what the task waits for: "waiting for lock build (2 ahead)".
	Reason string `msgpack:"reason,omitempty" json:"reason,omitempty"`
	// Lock is the lock waited for, Ahead how many hold or wait for it
	// before this task.
	Lock  string    `msgpack:"lock,omitempty" json:"lock,omitempty"`
	Ahead int       `msgpack:"ahead,omitempty" json:"ahead,omitempty"`
	At    time.Time `msgpack:"at" json:"at"`
}

// Kind implements Message.
func (*Progress) Kind() Kind     { return KindProgress }
func (p *Progress) version() int { return p.V }
func (p *Progress) stamp()       { p.V = 2 }

// InputWant is a node's request for more of a task's standard input, sent
// to the task's reply subject with a NATS reply subject that Input goes to.
// Credit is cumulative: the submitter may send input up to that offset.
type InputWant struct {
	V      int    `msgpack:"v" json:"v,omitempty"`
	ID     string `msgpack:"id" json:"id"`
	Credit int64  `msgpack:"credit" json:"credit"`
}

// Kind implements Message.
func (*InputWant) Kind() Kind     { return KindInputWant }
func (w *InputWant) version() int { return w.V }
func (w *InputWant) stamp()       { w.V = 2 }

// Input is a piece of a task's standard input, in order: Offset is where
// Data starts in the stream. EOF marks the end (Data may be empty then).
// Sig, on a signed task, is the submitter's signature of InputSigningBytes.
type Input struct {
	V      int    `msgpack:"v" json:"v,omitempty"`
	ID     string `msgpack:"id" json:"id"`
	Offset int64  `msgpack:"off" json:"offset"`
	Data   []byte `msgpack:"d,omitempty" json:"data,omitempty"`
	EOF    bool   `msgpack:"eof,omitempty" json:"eof,omitempty"`
	Sig    []byte `msgpack:"sig,omitempty" json:"sig,omitempty"`
}

// Kind implements Message.
func (*Input) Kind() Kind      { return KindInput }
func (in *Input) version() int { return in.V }
func (in *Input) stamp()       { in.V = 2 }
