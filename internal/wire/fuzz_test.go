package wire

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/vmihailenco/msgpack/v5"
)

// fuzzDecode fuzzes Decode for one message type, as msgpack (with fabric's
// header) and as JSON (without), seeded with samples of that type in both
// encodings. Whatever the input, Decode must not panic; what it accepts
// must be of a version this build speaks, must encode again, and must come
// back from its own encoding unchanged (compared as JSON, which sorts maps).
func fuzzDecode(f *testing.F, kind Kind, newMsg func() Message) {
	for _, m := range sampleMessages() {
		if m.Kind() != kind {
			continue
		}
		b, err := Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
		j, err := json.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(j, false)
	}
	nilTimes, _ := msgpack.Marshal(map[string]any{"v": 1, "id": "x", "t": nil, "start": nil, "at": nil})
	f.Add(nilTimes, true)                       // the decoder panicked on nil times
	f.Add([]byte{0xde, 0xff, 0xff}, true)       // a map claiming 65535 entries
	f.Add([]byte{0x81, 0xa1, 0x76, 0x09}, true) // {"v": 9}: too new
	f.Add([]byte(`{"v":-1}`), false)
	f.Add([]byte(`{"id":`), false)
	f.Fuzz(func(t *testing.T, data []byte, asMsgpack bool) {
		msg := &nats.Msg{Data: data}
		if asMsgpack {
			msg = msgpackMsg(data)
		}
		m := newMsg()
		if err := Decode(msg, m); err != nil {
			return
		}
		if v := m.version(); v > Version || v < 0 {
			t.Fatalf("accepted version %d", v)
		}
		again, err := Encode(FormatMsgpack, "x", m)
		if err != nil {
			t.Fatalf("decoded %s does not encode: %v", kind, err)
		}
		m2 := newMsg()
		if err := Decode(again, m2); err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", kind, err)
		}
		j1, err1 := json.Marshal(m)
		j2, err2 := json.Marshal(m2)
		if (err1 == nil) != (err2 == nil) || !bytes.Equal(j1, j2) {
			t.Fatalf("%s changed through its own encoding:\n%s (%v)\n%s (%v)", kind, j1, err1, j2, err2)
		}
	})
}

func FuzzDecodeAck(f *testing.F)    { fuzzDecode(f, KindAck, func() Message { return new(Ack) }) }
func FuzzDecodeResult(f *testing.F) { fuzzDecode(f, KindResult, func() Message { return new(Result) }) }
func FuzzDecodeChunk(f *testing.F)  { fuzzDecode(f, KindChunk, func() Message { return new(Chunk) }) }
func FuzzDecodeCancel(f *testing.F) { fuzzDecode(f, KindCancel, func() Message { return new(Cancel) }) }

// FuzzDecodeHeartbeatFull is FuzzDecodeHeartbeat with JSON bodies and the
// round-trip checks.
func FuzzDecodeHeartbeatFull(f *testing.F) {
	fuzzDecode(f, KindHeartbeat, func() Message { return new(Heartbeat) })
}

// FuzzDecodeTaskFull fuzzes every way a task arrives: msgpack, JSON or plain
// text, with or without the Content-Type header, and checks what DecodeTask
// accepts: something to run (command or argv, not both), no negative
// timeout or limit, a version this build speaks, and the format it reports
// is the one FormatOf sees.
func FuzzDecodeTaskFull(f *testing.F) {
	for _, m := range sampleMessages() {
		if m.Kind() != KindTask {
			continue
		}
		b, _ := Marshal(m)
		f.Add(b, uint8(0))
		j, _ := json.Marshal(m)
		f.Add(j, uint8(1))
		f.Add(j, uint8(2))
	}
	f.Add([]byte("uname -a"), uint8(2))
	f.Add([]byte("{ make; make test; }"), uint8(2))
	f.Add([]byte(`{"command":"ls","timeout":"1m","requires":{"os":"macos"}}`), uint8(2))
	f.Add([]byte(`{"argv":["echo","x"],"timeout":-1}`), uint8(1))
	f.Add([]byte("\xff\xfe"), uint8(2))
	nilTime, _ := msgpack.Marshal(map[string]any{"v": 1, "id": "x", "cmd": "ls", "at": nil})
	f.Add(nilTime, uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, header uint8) {
		msg := &nats.Msg{Data: data, Header: nats.Header{}}
		switch header % 3 {
		case 0:
			msg.Header.Set(HeaderContentType, ContentTypeMsgpack)
		case 1:
			msg.Header.Set(HeaderContentType, ContentTypeJSON)
		}
		task, format, err := DecodeTask(msg, 1<<20)
		if format != FormatOf(msg) {
			t.Fatalf("format %s, FormatOf says %s", format, FormatOf(msg))
		}
		if err != nil {
			return
		}
		switch {
		case task.Command == "" && len(task.Argv) == 0:
			t.Fatal("accepted a task with nothing to run")
		case task.Command != "" && len(task.Argv) > 0:
			t.Fatal("accepted a task with both command and argv")
		case task.Timeout < 0 || task.OutputLimit < 0:
			t.Fatalf("accepted timeout %d, output limit %d", task.Timeout, task.OutputLimit)
		case task.V > Version || task.V < 0:
			t.Fatalf("accepted version %d", task.V)
		}
		if _, err := Encode(FormatMsgpack, "x", task); err != nil {
			t.Fatalf("accepted task does not encode: %v", err)
		}
	})
}
