package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmihailenco/msgpack/v5"
)

func sampleMessages() []Message {
	at := time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)
	return []Message{
		&Task{ID: "t1", Command: "make -j8", Cwd: "/src", Env: map[string]string{"A": "b"}, Timeout: Duration(90 * time.Second),
			OutputLimit: 1 << 20, Requires: Requirements{OS: "linux", Arch: "amd64", Capabilities: []string{"docker"}}, Submitted: at},
		&Task{ID: "t2", Argv: []string{"echo", "a b"}},
		&Ack{ID: "t1", Node: "n1", Instance: "i1", Status: AckBusy, Reason: "4/4 slots"},
		&Chunk{ID: "t1", Stream: Stderr, Seq: 7, Data: []byte("hello\x00\xff")},
		&Result{ID: "t1", Node: "n1", ExitCode: 2, Stdout: "out", Stderr: "err", StdoutBytes: 3, StderrBytes: 3,
			Started: at, Duration: Duration(1500 * time.Millisecond), Error: ErrTimeout, Message: "killed after 1s"},
		&Heartbeat{Node: "n1", Instance: "i1", Hostname: "h", OS: "linux", Arch: "arm64", Capabilities: []string{"any", "gpu"},
			CPUPercent: 12.5, MemPercent: 40, Load1: 1, Load5: 2, Load15: 3, CPUs: 8, Running: 1, Slots: 8, State: StateReady,
			Version: "v0", Time: at, Interval: Duration(2 * time.Second)},
		&Cancel{ID: "t1", Reason: "user"},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, f := range []Format{FormatMsgpack, FormatJSON} {
		for _, m := range sampleMessages() {
			t.Run(f.String()+"/"+string(m.Kind()), func(t *testing.T) {
				msg, err := Encode(f, "x", m)
				if err != nil {
					t.Fatal(err)
				}
				if got := KindOf(msg); got != m.Kind() {
					t.Fatalf("KindOf = %q, want %q", got, m.Kind())
				}
				got := reflect.New(reflect.TypeOf(m).Elem()).Interface().(Message)
				if err := Decode(msg, got); err != nil {
					t.Fatal(err)
				}
				if f == FormatJSON {
					// JSON replaces invalid UTF-8; compare only valid-text messages.
					if c, ok := m.(*Chunk); ok && !json.Valid([]byte(`"`+string(c.Data)+`"`)) {
						return
					}
				}
				normaliseTimes(m)
				normaliseTimes(got)
				if !reflect.DeepEqual(got, m) {
					t.Fatalf("round trip:\n got %+v\nwant %+v", got, m)
				}
			})
		}
	}
}

func normaliseTimes(m Message) {
	switch x := m.(type) {
	case *Task:
		x.Submitted = x.Submitted.UTC()
	case *Result:
		x.Started = x.Started.UTC()
	case *Heartbeat:
		x.Time = x.Time.UTC()
	}
}

func TestDecodeTaskFormats(t *testing.T) {
	tests := []struct {
		name    string
		msg     *nats.Msg
		want    Task
		format  Format
		wantErr error
	}{
		{name: "plain", msg: &nats.Msg{Data: []byte("uname -a")}, want: Task{V: 1, Command: "uname -a"}, format: FormatPlain},
		{name: "shell group is plain", msg: &nats.Msg{Data: []byte("{ echo a; echo b; }")}, want: Task{V: 1, Command: "{ echo a; echo b; }"}, format: FormatPlain},
		{name: "json", msg: &nats.Msg{Data: []byte(`{"command":"ls","timeout":"5s","cwd":"/tmp"}`)},
			want: Task{Command: "ls", Timeout: Duration(5 * time.Second), Cwd: "/tmp"}, format: FormatJSON},
		{name: "json seconds", msg: &nats.Msg{Data: []byte(`{"command":"ls","timeout":2.5}`)},
			want: Task{Command: "ls", Timeout: Duration(2500 * time.Millisecond)}, format: FormatJSON},
		{name: "json unknown fields ignored", msg: &nats.Msg{Data: []byte(`{"command":"ls","future":{"x":1}}`)},
			want: Task{Command: "ls"}, format: FormatJSON},
		{name: "json argv", msg: &nats.Msg{Data: []byte(`{"argv":["echo","hi"]}`)}, want: Task{Argv: []string{"echo", "hi"}}, format: FormatJSON},
		{name: "empty", msg: &nats.Msg{Data: nil}, wantErr: ErrEmpty},
		{name: "blank", msg: &nats.Msg{Data: []byte(" \n")}, wantErr: ErrEmpty},
		{name: "truncated json", msg: &nats.Msg{Data: []byte(`{"command": "ls`)}, wantErr: ErrMalformed},
		{name: "json without command", msg: &nats.Msg{Data: []byte(`{"cwd":"/"}`)}, wantErr: ErrMalformed},
		{name: "json both command and argv", msg: &nats.Msg{Data: []byte(`{"command":"ls","argv":["ls"]}`)}, wantErr: ErrMalformed},
		{name: "json bad timeout", msg: &nats.Msg{Data: []byte(`{"command":"ls","timeout":"soon"}`)}, wantErr: ErrMalformed},
		{name: "json negative timeout", msg: &nats.Msg{Data: []byte(`{"command":"ls","timeout":-1}`)}, wantErr: ErrMalformed},
		{name: "json future version", msg: &nats.Msg{Data: []byte(`{"v":99,"command":"ls"}`)}, wantErr: ErrUnknownVersion},
		{name: "malformed msgpack", msg: msgpackMsg([]byte{0x85, 0xa2, 'i'}), wantErr: ErrMalformed},
		{name: "msgpack of wrong kind", msg: func() *nats.Msg { m, _ := NewMsg("x", &Cancel{ID: "a"}); return m }(), wantErr: ErrWrongKind},
		{name: "plain not utf8", msg: &nats.Msg{Data: []byte{0xff, 0xfe}}, wantErr: ErrMalformed},
		{name: "too large", msg: &nats.Msg{Data: []byte(strings.Repeat("x", 65))}, wantErr: ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, f, err := DecodeTask(tt.msg, 64)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("DecodeTask err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f != tt.format {
				t.Errorf("format = %v, want %v", f, tt.format)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("task = %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestDecodeTaskFutureMsgpackVersion(t *testing.T) {
	b, _ := msgpack.Marshal(map[string]any{"v": MaxVersion + 1, "id": "x", "cmd": "ls", "newfield": []int{1}})
	_, _, err := DecodeTask(msgpackMsg(b), 0)
	if !errors.Is(err, ErrUnknownVersion) {
		t.Fatalf("err = %v, want ErrUnknownVersion", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("version %d", MaxVersion+1)) {
		t.Errorf("error %q does not name the version", err)
	}
}

func TestDecodeIgnoresUnknownMsgpackFields(t *testing.T) {
	b, _ := msgpack.Marshal(map[string]any{"v": 1, "id": "x", "cmd": "ls", "newfield": []int{1}})
	task, f, err := DecodeTask(msgpackMsg(b), 0)
	if err != nil || f != FormatMsgpack || task.Command != "ls" || task.ID != "x" {
		t.Fatalf("DecodeTask = %+v, %v, %v", task, f, err)
	}
}

func TestDurationJSON(t *testing.T) {
	b, _ := json.Marshal(Duration(90 * time.Second))
	if string(b) != `"1m30s"` {
		t.Errorf("marshal = %s", b)
	}
	var d Duration
	if err := json.Unmarshal([]byte(`true`), &d); err == nil {
		t.Error("bool accepted as duration")
	}
}

func TestRequirementsString(t *testing.T) {
	if got := (Requirements{}).String(); got != "none" {
		t.Errorf("empty = %q", got)
	}
	r := Requirements{OS: "linux", Capabilities: []string{"docker", "gpu"}}
	if got := r.String(); got != "os=linux caps=docker,gpu" {
		t.Errorf("String = %q", got)
	}
}

func msgpackMsg(b []byte) *nats.Msg {
	m := nats.NewMsg("x")
	m.Header.Set(HeaderContentType, ContentTypeMsgpack)
	m.Data = b
	return m
}

func FuzzDecodeTask(f *testing.F) {
	good, _ := Marshal(&Task{ID: "a", Command: "ls", Requires: Requirements{Capabilities: []string{"x"}}})
	for _, seed := range [][]byte{good, []byte(`{"command":"ls"}`), []byte("uname -a"), []byte(`{"`), {0x85}, nil} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, data []byte, asMsgpack bool) {
		msg := &nats.Msg{Data: data}
		if asMsgpack {
			msg = msgpackMsg(data)
		}
		task, _, err := DecodeTask(msg, 1<<20)
		if err == nil && task.Command == "" && len(task.Argv) == 0 {
			t.Fatal("accepted a task with nothing to run")
		}
	})
}

func FuzzDecodeHeartbeat(f *testing.F) {
	good, _ := Marshal(sampleMessages()[5])
	f.Add(good)
	f.Add([]byte{0xde, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		var hb Heartbeat
		_ = Decode(msgpackMsg(data), &hb)
	})
}

func BenchmarkMarshalHeartbeat(b *testing.B) {
	hb := sampleMessages()[5]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(hb); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeHeartbeat(b *testing.B) {
	data, _ := Marshal(sampleMessages()[5])
	msg := msgpackMsg(data)
	var hb Heartbeat
	b.ReportAllocs()
	for b.Loop() {
		if err := Decode(msg, &hb); err != nil {
			b.Fatal(err)
		}
	}
}

func TestEncoderReusesItsBuffer(t *testing.T) {
	e := NewEncoder()
	m1, err := e.Msg("a", &Chunk{ID: "x", Stream: Stdout, Seq: 1, Data: []byte("one")})
	if err != nil {
		t.Fatal(err)
	}
	var c Chunk
	if err := Decode(m1, &c); err != nil || string(c.Data) != "one" || KindOf(m1) != KindChunk {
		t.Fatalf("first: %+v %v", c, err)
	}
	m2, _ := e.Msg("b", &Chunk{ID: "x", Stream: Stderr, Seq: 2, Data: []byte("two")})
	if err := Decode(m2, &c); err != nil || string(c.Data) != "two" || c.Stream != Stderr || m2.Subject != "b" {
		t.Fatalf("second: %+v %v", c, err)
	}
	allocs := testing.AllocsPerRun(100, func() { e.Msg("a", &Chunk{ID: "x", Data: make([]byte, 0)}) })
	if allocs > 4 {
		t.Errorf("%.0f allocations per message", allocs)
	}
}
