package tasks

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/fabric-run/fabric/internal/wire"
)

// FuzzDecodeStoredResult fuzzes the store's reading of a result value: what
// a node (msgpack) or a script (JSON) published on a task's result subject.
// It must never panic, and what it accepts is the result of that task.
func FuzzDecodeStoredResult(f *testing.F) {
	at := time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)
	res := &wire.Result{ID: "t1", Node: "n1", ExitCode: 2, Stdout: "out", Stderr: "err", StdoutBytes: 3, Started: at,
		Duration: wire.Duration(time.Second), Error: wire.ErrTimeout, Message: "killed"}
	b, _ := wire.Marshal(res)
	f.Add(b)
	j, _ := json.Marshal(res)
	f.Add(j)
	f.Add([]byte(`  {"exit_code": 0}`))
	f.Add([]byte(`{"id":"other"}`))
	nilStart, _ := msgpack.Marshal(map[string]any{"id": "t1", "start": nil})
	f.Add(nilStart)
	f.Add([]byte{0x81, 0xa2, 'i', 'd', 0xdb, 0x60, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeResult("t1", data)
		if err != nil {
			return
		}
		if r.ID != "t1" {
			t.Fatalf("accepted a result of %q for t1", r.ID)
		}
		if r.V > wire.Version || r.V < 0 {
			t.Fatalf("accepted version %d", r.V)
		}
		_ = StateOf(&Record{ID: "t1"}, r)
	})
}

// FuzzDecodeStoredRecord fuzzes the store's reading of a task record: it
// must never panic, and a record it accepts encodes again.
func FuzzDecodeStoredRecord(f *testing.F) {
	rec := &Record{ID: "t1", Command: "make", Argv: []string{"a"}, Cwd: "/src", Node: "n1", Via: wire.ViaNATS,
		State: StateRunning, Submitted: time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)}
	b, _ := msgpack.Marshal(rec)
	f.Add(b)
	nilTime, _ := msgpack.Marshal(map[string]any{"id": "t1", "at": nil})
	f.Add(nilTime)
	f.Add([]byte{0xde, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRecord("t1", data)
		if err != nil {
			return
		}
		if r.ID == "" {
			t.Fatal("accepted a record with no id")
		}
		if _, err := encodeRecord(r, 1<<30); err != nil {
			t.Fatalf("accepted record does not encode: %v", err)
		}
	})
}
