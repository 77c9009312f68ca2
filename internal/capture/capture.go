// Package capture keeps a bounded copy of an output stream: all of it up to a
// limit, and past the limit its head and its tail, with a count of everything
// that went through. Build logs put their errors at the end, so the tail is
// kept as well as the head.
package capture

import (
	"fmt"
	"strings"
)

// Buffer keeps at most Limit bytes of what is written to it: the first half
// of the limit and the last half. Writes never fail. A Buffer is not safe for
// concurrent use; give each stream its own.
type Buffer struct {
	limit int
	head  []byte // first headCap bytes
	tail  []byte // ring of the last tailCap bytes once head is full
	pos   int    // next write position in tail when it is full
	full  bool   // tail has wrapped
	total int64
}

// New returns a Buffer keeping at most limit bytes (limit < 2 is taken as 2).
func New(limit int) *Buffer {
	if limit < 2 {
		limit = 2
	}
	return &Buffer{limit: limit}
}

func (b *Buffer) headCap() int { return b.limit / 2 }
func (b *Buffer) tailCap() int { return b.limit - b.limit/2 }

// Write implements io.Writer; it keeps what fits and counts the rest.
func (b *Buffer) Write(p []byte) (int, error) {
	n := len(p)
	b.total += int64(n)
	if room := b.headCap() - len(b.head); room > 0 {
		k := min(room, len(p))
		b.head = append(b.head, p[:k]...)
		p = p[k:]
	}
	if len(p) == 0 {
		return n, nil
	}
	tc := b.tailCap()
	if len(p) >= tc {
		// Only the last tc bytes of p can survive.
		if cap(b.tail) < tc {
			b.tail = make([]byte, 0, tc)
		}
		b.tail = append(b.tail[:0], p[len(p)-tc:]...)
		b.pos, b.full = 0, true
		return n, nil
	}
	if !b.full {
		room := tc - len(b.tail)
		k := min(room, len(p))
		b.tail = append(b.tail, p[:k]...)
		p = p[k:]
		if len(b.tail) == tc {
			b.full, b.pos = true, 0
		}
	}
	for len(p) > 0 {
		k := copy(b.tail[b.pos:], p)
		p = p[k:]
		b.pos = (b.pos + k) % tc
	}
	return n, nil
}

// Total returns how many bytes were written in all.
func (b *Buffer) Total() int64 { return b.total }

// Truncated reports whether some of what was written is not kept.
func (b *Buffer) Truncated() bool { return b.total > int64(len(b.head)+len(b.tail)) }

// Omitted returns how many bytes were written but not kept.
func (b *Buffer) Omitted() int64 { return b.total - int64(len(b.head)+len(b.tail)) }

// String returns what is kept: everything if nothing was cut, otherwise the
// head and the tail around a marker line saying how much was left out.
func (b *Buffer) String() string {
	var s strings.Builder
	s.Grow(len(b.head) + len(b.tail) + 64)
	s.Write(b.head)
	if b.Truncated() {
		s.WriteString(Marker(b.Omitted()))
	}
	if b.full {
		s.Write(b.tail[b.pos:])
		s.Write(b.tail[:b.pos])
	} else {
		s.Write(b.tail)
	}
	return s.String()
}

// Marker is the line that stands for n bytes left out of kept output.
func Marker(n int64) string {
	return fmt.Sprintf("\n[... fabric: %s omitted ...]\n", Size(n))
}

// Size renders a byte count for people: "512 B", "1.5 KiB", "100.0 MiB".
func Size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
