package frontend

import (
	"strings"
	"testing"

	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
)

// TestListenerJoiningMidLine: output streamed while nobody listens is kept
// (not split into lines); a listener that joins in the middle of a line
// gets that line whole once it ends, and a line longer than maxLineLen in
// pieces of it, as if it had listened all along.
func TestListenerJoiningMidLine(t *testing.T) {
	l := newLive(tasks.Record{ID: "t"}, 1<<20, func(error) {})
	l.append(wire.Stdout, []byte("first\nsecond hal"))
	lines, stop := l.listen()
	defer stop()
	l.append(wire.Stdout, []byte("f\nthird\n"))
	for _, want := range []string{"second half", "third"} {
		if got := (<-lines).Text; got != want {
			t.Fatalf("line %q, want %q", got, want)
		}
	}
	stop()

	long := strings.Repeat("x", maxLineLen+10)
	l.append(wire.Stderr, []byte(long[:maxLineLen+5])) // nobody listens
	lines, stop = l.listen()
	defer stop()
	l.append(wire.Stderr, []byte(long[maxLineLen+5:]+"\n"))
	if got := <-lines; got.Stream != wire.Stderr || got.Text != "xxxxxxxxxx" {
		t.Fatalf("the rest of a long line = %+v, want its last 10 bytes", got)
	}
	if got := l.stdout.String() + l.stderr.String(); got != "first\nsecond half\nthird\n"+long+"\n" {
		t.Fatalf("kept %q", got)
	}
}
