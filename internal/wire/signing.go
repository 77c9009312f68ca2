package wire

import (
	"encoding/binary"
	"slices"
)

// SigningBytes returns the canonical bytes a task's signature covers: every
// field but the signature itself, in a fixed order, each length-prefixed,
// with the environment sorted by key. Two tasks that would run differently
// never share signing bytes.
func SigningBytes(t *Task) []byte {
	var b []byte
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	list := func(l []string) {
		b = binary.AppendUvarint(b, uint64(len(l)))
		for _, s := range l {
			str(s)
		}
	}
	num := func(n int64) { b = binary.AppendVarint(b, n) }

	str("fabric-task-v1")
	str(t.ID)
	str(t.Command)
	list(t.Argv)
	str(t.Cwd)
	keys := make([]string, 0, len(t.Env))
	for k := range t.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	num(int64(len(keys)))
	for _, k := range keys {
		str(k)
		str(t.Env[k])
	}
	num(int64(t.Timeout))
	num(t.OutputLimit)
	str(t.Requires.OS)
	str(t.Requires.Arch)
	list(t.Requires.Capabilities)
	str(t.Requires.Node)
	num(t.Submitted.UnixNano())
	str(t.ResultTo)
	str(t.OutputTo)
	str(t.Signer)
	if !t.TaskV2.IsZero() {
		// Only tasks that use them carry these, so that signatures of
		// version 1 tasks stay what they were.
		str("v2")
		list(t.Locks)
		num(int64(t.LockTimeout))
		num(int64(t.GPUs))
		num(int64(t.IdleTimeout))
		str(string(t.Stdin))
		if t.StdinStream {
			num(1)
		} else {
			num(0)
		}
	}
	return b
}

// InputSigningBytes returns the bytes a piece of a signed task's streamed
// standard input is signed over: the task id, where the piece starts,
// whether it ends the stream, and its data. Pieces cannot be moved,
// replayed into another task, cut short or extended unseen.
func InputSigningBytes(in *Input) []byte {
	b := make([]byte, 0, len(in.Data)+len(in.ID)+32)
	b = append(b, "fabric-input-v1"...)
	b = binary.AppendUvarint(b, uint64(len(in.ID)))
	b = append(b, in.ID...)
	b = binary.AppendVarint(b, in.Offset)
	if in.EOF {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(in.Data)))
	return append(b, in.Data...)
}
