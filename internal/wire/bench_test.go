package wire

import (
	"bytes"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// The hot-path codecs: heartbeats (every node, every interval, into every
// front end), tasks and results (every command), chunks (every 64 KiB of
// output). Run with -benchmem.

func benchHeartbeat() *Heartbeat {
	return &Heartbeat{Node: "builder-17", Instance: "Kq3ZbQ1xZ0nN7s2VdE4w8a", Hostname: "builder-17.lan", OS: "linux", Arch: "amd64",
		Capabilities: []string{"any", "docker", "gcc", "go", "make", "python3"}, CPUPercent: 37.5, MemPercent: 61.2,
		Load1: 1.25, Load5: 0.9, Load15: 0.7, CPUs: 16, Running: 3, Tasks: []string{"a1", "b2", "c3"}, Slots: 16,
		State: StateReady, Version: "0.1.0", Time: time.Unix(1795659241, 123456789), Interval: Duration(2 * time.Second)}
}

func benchTask() *Task {
	return &Task{ID: NewTaskID(), Command: "make -j8 test", Cwd: "~/src/app", Timeout: Duration(5 * time.Minute),
		OutputLimit: 1 << 20, Requires: Requirements{OS: "linux", Capabilities: []string{"make"}}, Submitted: time.Unix(1795659241, 0)}
}

func benchResult() *Result {
	return &Result{ID: NewTaskID(), Node: "builder-17", ExitCode: 0, Stdout: string(bytes.Repeat([]byte("ok\n"), 100)),
		StdoutBytes: 300, Started: time.Unix(1795659241, 0), Duration: Duration(1500 * time.Millisecond)}
}

func benchChunk() *Chunk {
	return &Chunk{ID: NewTaskID(), Stream: Stdout, Seq: 42, Data: bytes.Repeat([]byte{'x'}, 64<<10)}
}

func benchEncode(b *testing.B, m Message) {
	e := NewEncoder()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Msg("fabric.x", m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeHeartbeat(b *testing.B) { benchEncode(b, benchHeartbeat()) }
func BenchmarkEncodeTask(b *testing.B)      { benchEncode(b, benchTask()) }
func BenchmarkEncodeResult(b *testing.B)    { benchEncode(b, benchResult()) }
func BenchmarkEncodeChunk(b *testing.B) {
	b.SetBytes(64 << 10)
	benchEncode(b, benchChunk())
}

func encoded(b *testing.B, m Message) *nats.Msg {
	msg, err := NewMsg("fabric.x", m)
	if err != nil {
		b.Fatal(err)
	}
	return msg
}

func BenchmarkDecodeTask(b *testing.B) {
	msg := encoded(b, benchTask())
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeTask(msg, 1<<20); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeResult(b *testing.B) {
	msg := encoded(b, benchResult())
	b.ReportAllocs()
	for b.Loop() {
		var r Result
		if err := Decode(msg, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeChunk(b *testing.B) {
	msg := encoded(b, benchChunk())
	b.SetBytes(64 << 10)
	b.ReportAllocs()
	for b.Loop() {
		var c Chunk
		if err := Decode(msg, &c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeHeartbeatGeneric decodes with the generic msgpack path
// into a fresh struct, as before the reusing decoder.
func BenchmarkDecodeHeartbeatGeneric(b *testing.B) {
	msg := encoded(b, benchHeartbeat())
	b.ReportAllocs()
	for b.Loop() {
		var hb Heartbeat
		if err := Decode(msg, &hb); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeHeartbeatReusing is the front end's path: each heartbeat decoded
// into the node's previous one (allocation-free when only numbers change).
func BenchmarkDecodeHeartbeatReusing(b *testing.B) {
	msg := encoded(b, benchHeartbeat())
	var hb Heartbeat
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeHeartbeatReusing(msg, &hb); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeChunkReusing is the front end's path for streamed output:
// the data aliases the message, the task id is kept.
func BenchmarkDecodeChunkReusing(b *testing.B) {
	msg := encoded(b, benchChunk())
	var c Chunk
	b.SetBytes(64 << 10)
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeChunkReusing(msg, &c); err != nil {
			b.Fatal(err)
		}
	}
}
