package capture

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestUnderLimitKeepsAll(t *testing.T) {
	b := New(10)
	b.Write([]byte("abc"))
	b.Write([]byte("defg"))
	if got := b.String(); got != "abcdefg" || b.Truncated() || b.Total() != 7 {
		t.Fatalf("String = %q, truncated %v, total %d", got, b.Truncated(), b.Total())
	}
}

func TestExactlyAtLimit(t *testing.T) {
	b := New(10)
	b.Write([]byte("0123456789"))
	if got := b.String(); got != "0123456789" || b.Truncated() {
		t.Fatalf("String = %q, truncated %v", got, b.Truncated())
	}
}

func TestOverLimitKeepsHeadAndTail(t *testing.T) {
	b := New(10)
	b.Write([]byte("0123456789abcdefghij"))
	want := "01234" + Marker(10) + "fghij"
	if got := b.String(); got != want || !b.Truncated() || b.Total() != 20 || b.Omitted() != 10 {
		t.Fatalf("String = %q, want %q (total %d)", got, want, b.Total())
	}
}

// TestMatchesReference writes random pieces and compares with the obvious
// implementation on the whole stream.
func TestMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for iter := 0; iter < 2000; iter++ {
		limit := 2 + r.IntN(40)
		b := New(limit)
		var all bytes.Buffer
		for w := r.IntN(12); w > 0; w-- {
			p := make([]byte, r.IntN(30))
			for i := range p {
				p[i] = byte('a' + r.IntN(26))
			}
			b.Write(p)
			all.Write(p)
		}
		s := all.String()
		want := s
		if len(s) > limit {
			h := limit / 2
			want = s[:h] + Marker(int64(len(s)-limit)) + s[len(s)-(limit-h):]
		}
		if got := b.String(); got != want {
			t.Fatalf("limit %d, input %q: got %q, want %q", limit, s, got, want)
		}
	}
}

func TestMemoryStaysBounded(t *testing.T) {
	b := New(1024)
	chunk := []byte(strings.Repeat("x", 32*1024))
	for i := 0; i < 100; i++ {
		b.Write(chunk)
	}
	if cap(b.head)+cap(b.tail) > 2*1024 {
		t.Fatalf("buffers grew to %d bytes for a 1 KiB limit", cap(b.head)+cap(b.tail))
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 100 << 20: "100.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}
