package wire

import (
	"bytes"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// TestTaskStampedWithTheOldestVersionThatCarriesIt: a task that asks for
// nothing new stays version 1 (older nodes run it); one that asks for a
// lock, GPUs, an idle timeout or input is version 2, which older nodes
// refuse rather than run without what it asked for.
func TestTaskStampedWithTheOldestVersionThatCarriesIt(t *testing.T) {
	for _, tc := range []struct {
		name string
		v2   TaskV2
		want int
	}{
		{"plain", TaskV2{}, 1},
		{"lock", TaskV2{Locks: []string{"build:2"}}, 2},
		{"lock timeout", TaskV2{LockTimeout: Duration(time.Second)}, 2},
		{"gpus", TaskV2{GPUs: 2}, 2},
		{"idle", TaskV2{IdleTimeout: Duration(time.Second)}, 2},
		{"stdin", TaskV2{Stdin: []byte("x")}, 2},
		{"stdin stream", TaskV2{StdinStream: true}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := &Task{ID: "t", Command: "ls", TaskV2: tc.v2}
			b, err := Marshal(task)
			if err != nil {
				t.Fatal(err)
			}
			var raw map[string]any
			if err := msgpack.Unmarshal(b, &raw); err != nil {
				t.Fatal(err)
			}
			if v, _ := raw["v"].(int8); int(v) != tc.want {
				t.Fatalf("v = %v, want %d", raw["v"], tc.want)
			}
			got, _, err := DecodeTask(msgpackMsg(b), 0)
			if err != nil {
				t.Fatal(err)
			}
			if got.Locks == nil && tc.v2.Locks != nil || got.GPUs != tc.v2.GPUs || got.IdleTimeout != tc.v2.IdleTimeout ||
				!bytes.Equal(got.Stdin, tc.v2.Stdin) || got.StdinStream != tc.v2.StdinStream || got.LockTimeout != tc.v2.LockTimeout {
				t.Fatalf("decoded %+v, want %+v", got.TaskV2, tc.v2)
			}
		})
	}
}

// TestSigningBytesCoverV2Fields: version 1 tasks sign as before, and every
// version 2 field changes what is signed.
func TestSigningBytesCoverV2Fields(t *testing.T) {
	base := Task{ID: "t", Command: "wc -l", Submitted: time.Unix(1, 0)}
	v1 := SigningBytes(&base)
	if bytes.Contains(v1, []byte("v2")) {
		t.Fatal("a version 1 task's signing bytes changed")
	}
	seen := map[string]string{string(v1): "plain"}
	for name, v2 := range map[string]TaskV2{
		"lock":        {Locks: []string{"a"}},
		"lock 2":      {Locks: []string{"a:2"}},
		"timeout":     {Locks: []string{"a"}, LockTimeout: 5},
		"gpus":        {GPUs: 1},
		"idle":        {IdleTimeout: 7},
		"stdin":       {Stdin: []byte("secret")},
		"other stdin": {Stdin: []byte("secreT")},
		"stream":      {StdinStream: true},
	} {
		task := base
		task.TaskV2 = v2
		b := string(SigningBytes(&task))
		if other, dup := seen[b]; dup {
			t.Fatalf("%s signs the same bytes as %s", name, other)
		}
		seen[b] = name
	}
}

func TestInputSigningBytesDiffer(t *testing.T) {
	base := Input{ID: "t", Offset: 10, Data: []byte("abc")}
	seen := map[string]bool{string(InputSigningBytes(&base)): true}
	for _, in := range []Input{
		{ID: "u", Offset: 10, Data: []byte("abc")},
		{ID: "t", Offset: 11, Data: []byte("abc")},
		{ID: "t", Offset: 10, Data: []byte("abd")},
		{ID: "t", Offset: 10, Data: []byte("abc"), EOF: true},
		{ID: "t", Offset: 10, Data: []byte("ab")},
	} {
		b := string(InputSigningBytes(&in))
		if seen[b] {
			t.Fatalf("%+v signs like another piece", in)
		}
		seen[b] = true
	}
}
