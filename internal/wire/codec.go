package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/fabric-run/fabric/subjects"
)

// Headers fabric sets on its messages. nats.Header keys are case-sensitive.
const (
	HeaderContentType = "Content-Type"
	HeaderKind        = "Fabric-Kind"

	ContentTypeMsgpack = "application/msgpack"
	ContentTypeJSON    = "application/json"
)

// Format is how a message body is encoded.
type Format uint8

// The formats a node accepts. Replies go back in msgpack to fabric
// components and in JSON to everyone else.
const (
	FormatMsgpack Format = iota + 1 // Content-Type: application/msgpack
	FormatJSON                      // a JSON object
	FormatPlain                     // the whole body is the command
)

// String names the format.
func (f Format) String() string {
	switch f {
	case FormatMsgpack:
		return "msgpack"
	case FormatJSON:
		return "json"
	case FormatPlain:
		return "plain"
	}
	return "unknown"
}

// Errors from decoding; each is wrapped with what was wrong.
var (
	ErrEmpty          = errors.New("empty message")
	ErrMalformed      = errors.New("malformed message")
	ErrUnknownVersion = errors.New("unknown message version")
	ErrTooLarge       = errors.New("message too large")
	ErrWrongKind      = errors.New("wrong message kind")
)

// Marshal encodes m as msgpack, stamping the current Version.
func Marshal(m Message) ([]byte, error) {
	m.stamp()
	b, err := msgpack.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.Kind(), err)
	}
	return b, nil
}

// NewMsg returns a msgpack-encoded NATS message for subject with fabric's
// headers set.
func NewMsg(subject string, m Message) (*nats.Msg, error) {
	return Encode(FormatMsgpack, subject, m)
}

// Encode returns m as a NATS message for subject in format f: msgpack for
// FormatMsgpack, JSON otherwise (people and scripts get JSON back whatever
// they sent).
func Encode(f Format, subject string, m Message) (*nats.Msg, error) {
	msg := nats.NewMsg(subject)
	msg.Header[HeaderKind] = []string{string(m.Kind())}
	if f == FormatMsgpack {
		b, err := Marshal(m)
		if err != nil {
			return nil, err
		}
		msg.Header[HeaderContentType] = []string{ContentTypeMsgpack}
		msg.Data = b
		return msg, nil
	}
	m.stamp()
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.Kind(), err)
	}
	msg.Header[HeaderContentType] = []string{ContentTypeJSON}
	msg.Data = b
	return msg, nil
}

// KindOf returns the kind a message's header names, or "" if none.
func KindOf(msg *nats.Msg) Kind {
	if msg.Header == nil {
		return ""
	}
	return Kind(msg.Header.Get(HeaderKind))
}

// FormatOf returns the format of a message body from its Content-Type header
// and, failing that, its first bytes.
func FormatOf(msg *nats.Msg) Format {
	if msg.Header != nil {
		switch msg.Header.Get(HeaderContentType) {
		case ContentTypeMsgpack:
			return FormatMsgpack
		case ContentTypeJSON:
			return FormatJSON
		}
	}
	if looksLikeJSON(msg.Data) {
		return FormatJSON
	}
	return FormatPlain
}

// looksLikeJSON reports whether b is meant as a JSON object: it starts with
// '{' and, after optional white space, '"' or '}'. A shell group command
// ("{ make; make test; }") therefore stays a command.
func looksLikeJSON(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	b = bytes.TrimLeft(b[1:], " \t\r\n")
	return len(b) == 0 || b[0] == '"' || b[0] == '}'
}

// Decode decodes msg into m. The body is msgpack when the Content-Type header
// says so and JSON otherwise. A Kind header that names another kind, a
// version newer than Version, and an undecodable body are errors.
func Decode(msg *nats.Msg, m Message) error {
	if k := KindOf(msg); k != "" && k != m.Kind() {
		return fmt.Errorf("%w: got %q, want %q", ErrWrongKind, k, m.Kind())
	}
	if len(msg.Data) == 0 {
		return fmt.Errorf("%w: no %s body", ErrEmpty, m.Kind())
	}
	if FormatOf(msg) == FormatMsgpack {
		if err := unmarshalMsgpack(msg.Data, m); err != nil {
			return fmt.Errorf("%w: %s is not valid msgpack: %v", ErrMalformed, m.Kind(), err)
		}
	} else if err := json.Unmarshal(msg.Data, m); err != nil {
		return fmt.Errorf("%w: %s is not valid JSON: %v", ErrMalformed, m.Kind(), err)
	}
	return checkVersion(m)
}

// DecodeTask decodes a task in any of the accepted formats: msgpack (with the
// Content-Type header), a JSON object, or plain text that is the command.
// Bodies over maxBytes (when positive) are refused before decoding.
func DecodeTask(msg *nats.Msg, maxBytes int) (*Task, Format, error) {
	f := FormatOf(msg)
	if maxBytes > 0 && len(msg.Data) > maxBytes {
		return nil, f, fmt.Errorf("%w: task is %d bytes, this node takes at most %d", ErrTooLarge, len(msg.Data), maxBytes)
	}
	if len(bytes.TrimSpace(msg.Data)) == 0 {
		return nil, f, fmt.Errorf("%w: send a command as plain text, a JSON object like {\"command\": \"uname -a\"}, or a fabric msgpack task", ErrEmpty)
	}
	t := new(Task)
	if f == FormatPlain {
		if !utf8.Valid(msg.Data) {
			return nil, f, fmt.Errorf("%w: plain-text command is not valid UTF-8", ErrMalformed)
		}
		t.Command = string(msg.Data)
		t.V = Version
		return t, f, nil
	}
	if err := Decode(msg, t); err != nil {
		return nil, f, err
	}
	if t.Command == "" && len(t.Argv) == 0 {
		return nil, f, fmt.Errorf("%w: task has neither command nor argv", ErrMalformed)
	}
	if t.Command != "" && len(t.Argv) > 0 {
		return nil, f, fmt.Errorf("%w: task has both command and argv; send one", ErrMalformed)
	}
	if t.Timeout < 0 || t.OutputLimit < 0 {
		return nil, f, fmt.Errorf("%w: negative timeout or output limit", ErrMalformed)
	}
	// The node publishes to these on the sender's behalf: a subject the
	// server refuses (too long for its control line) would cost the node its
	// connection.
	for _, to := range []struct{ name, subject string }{{"result_to", t.ResultTo}, {"output_to", t.OutputTo}} {
		if to.subject == "" {
			continue
		}
		if err := subjects.ValidPublish(to.subject); err != nil {
			return nil, f, fmt.Errorf("%w: %s: %v", ErrMalformed, to.name, err)
		}
	}
	return t, f, nil
}

func checkVersion(m Message) error { return checkV(m.Kind(), m.version()) }

func checkV(kind Kind, v int) error {
	if v > MaxVersion {
		return fmt.Errorf("%w: %s version %d, this build speaks up to %d", ErrUnknownVersion, kind, v, MaxVersion)
	}
	if v < 0 {
		return fmt.Errorf("%w: %s version %d", ErrMalformed, kind, v)
	}
	return nil
}

// unmarshalMsgpack is msgpack.Unmarshal of data checked first
// (checkStructure), with a panic of the decoder (it panics on nil for a
// time.Time field) turned into an error: a malformed message must never
// crash the process that receives it.
func unmarshalMsgpack(data []byte, v any) (err error) {
	if err := checkStructure(data); err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("msgpack decoder: %v", p)
		}
	}()
	return msgpack.Unmarshal(data, v)
}

// Encoder encodes msgpack messages into one reused buffer, for hot paths
// that publish many messages (output chunks). It is not safe for concurrent
// use, and a message it returns is valid only until its next call: publish
// it (nats.go copies the data) before encoding another.
type Encoder struct {
	buf  bytes.Buffer
	enc  *msgpack.Encoder
	msg  nats.Msg
	kind []string // the Fabric-Kind header value, reused
}

// NewEncoder returns an Encoder.
func NewEncoder() *Encoder {
	e := &Encoder{kind: []string{""}}
	e.enc = msgpack.NewEncoder(&e.buf)
	e.msg.Header = nats.Header{HeaderKind: e.kind, HeaderContentType: []string{ContentTypeMsgpack}}
	return e
}

// Msg encodes m for subject, with fabric's headers.
func (e *Encoder) Msg(subject string, m Message) (*nats.Msg, error) {
	m.stamp()
	e.buf.Reset()
	if err := e.enc.Encode(m); err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.Kind(), err)
	}
	e.kind[0] = string(m.Kind())
	e.msg.Subject, e.msg.Data, e.msg.Reply = subject, e.buf.Bytes(), ""
	return &e.msg, nil
}
