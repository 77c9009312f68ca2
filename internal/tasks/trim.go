package tasks

import (
	"fmt"
	"unicode/utf8"

	"github.com/fabric-run/fabric/internal/capture"
	"github.com/fabric-run/fabric/internal/wire"
)

// Headroom is what TrimResult and the stores leave of a message's max
// payload for everything but the encoded value: NATS headers.
const Headroom = 1024

// markerRoom bounds the length of a capture.Marker line.
var markerRoom = len(capture.Marker(1 << 62))

// TrimResult returns res with its output cut so that a message carrying its
// msgpack encoding (headers included) fits in maxPayload bytes: each stream
// that must give keeps its head and its tail around a capture.Marker line,
// with its Truncated flag set and its byte count kept. The shorter stream
// keeps all it can before the longer one gives anything. Cuts fall on UTF-8
// character boundaries. res itself is not modified; when it already fits it
// is returned as a copy. It fails with ErrTooLarge if the result does not
// fit even with no output at all.
func TrimResult(res *wire.Result, maxPayload int64) (*wire.Result, error) {
	limit := int(min(maxPayload, 1<<31)) - Headroom
	if limit <= 0 {
		return nil, fmt.Errorf("trim result: %w: max payload %d leaves no room", ErrTooLarge, maxPayload)
	}
	out := *res
	b, err := wire.Marshal(&out)
	if err != nil {
		return nil, fmt.Errorf("trim result: %w", err)
	}
	if len(b) <= limit {
		return &out, nil
	}

	// What the result weighs without its output, once flagged truncated.
	bare := out
	bare.Stdout, bare.Stderr = "", ""
	bare.StdoutBytes = max(out.StdoutBytes, int64(len(out.Stdout)))
	bare.StderrBytes = max(out.StderrBytes, int64(len(out.Stderr)))
	bare.StdoutTruncated, bare.StderrTruncated = true, true
	if b, err = wire.Marshal(&bare); err != nil {
		return nil, fmt.Errorf("trim result: %w", err)
	}
	// Each string costs up to 5 bytes of msgpack header and a marker.
	budget := limit - len(b) - 2*(5+markerRoom)
	for budget >= 0 {
		keepOut, keepErr := split(budget, len(out.Stdout), len(out.Stderr))
		t := out
		t.Stdout, t.StdoutBytes, t.StdoutTruncated = cut(out.Stdout, keepOut, out.StdoutBytes, out.StdoutTruncated)
		t.Stderr, t.StderrBytes, t.StderrTruncated = cut(out.Stderr, keepErr, out.StderrBytes, out.StderrTruncated)
		if b, err = wire.Marshal(&t); err != nil {
			return nil, fmt.Errorf("trim result: %w", err)
		}
		if len(b) <= limit {
			return &t, nil
		}
		budget -= len(b) - limit + 64 // not expected: the estimate above is an upper bound
	}
	return nil, fmt.Errorf("trim result: %w: %d bytes without output, the limit is %d", ErrTooLarge, len(b), limit)
}

// split shares budget bytes between two streams of lengths a and b: the
// shorter keeps all it has up to half, the longer gets the rest.
func split(budget, a, b int) (int, int) {
	half := budget / 2
	switch {
	case a+b <= budget:
		return a, b
	case a <= half:
		return a, budget - a
	case b <= half:
		return budget - b, b
	}
	return half, budget - half
}

// cut keeps at most keep bytes of s: its head and tail around a marker
// saying how many bytes of the original stream are left out. total is the
// stream's byte count as reported (0: len(s)) and truncated its flag.
func cut(s string, keep int, total int64, truncated bool) (string, int64, bool) {
	total = max(total, int64(len(s)))
	if len(s) <= keep {
		return s, total, truncated
	}
	head := keep / 2
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	tail := len(s) - (keep - keep/2)
	for tail < len(s) && !utf8.RuneStart(s[tail]) {
		tail++
	}
	kept := int64(head + len(s) - tail)
	return s[:head] + capture.Marker(total-kept) + s[tail:], total, true
}
