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
	return b
}
