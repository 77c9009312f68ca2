package fabrictest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// Stamped returns a shell command that appends, around body, its start and
// end in nanoseconds (date +%s%N) to the file dir/name: what tests of
// locks and limits read back with Spans to see which commands overlapped,
// on whatever node they ran.
func Stamped(dir, name, body string) string {
	f := filepath.Join(dir, name)
	return fmt.Sprintf("echo start $(date +%%s%%N) >> %s; %s; echo end $(date +%%s%%N) >> %s", f, body, f)
}

// Span is when one stamped command ran.
type Span struct {
	Name       string
	Start, End int64
}

// Spans reads the stamps of every command that wrote into dir.
func Spans(t testing.TB, dir string) []Span {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	var out []Span
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := Span{Name: filepath.Base(f)}
		if _, err := fmt.Sscanf(string(b), "start %d\nend %d\n", &s.Start, &s.End); err != nil {
			t.Fatalf("%s: %q: %v", f, b, err)
		}
		out = append(out, s)
	}
	return out
}

// MostAtOnce returns the most spans that overlapped at any instant; spans
// that only touch do not overlap.
func MostAtOnce(ss []Span) int {
	type edge struct {
		at    int64
		delta int
	}
	var edges []edge
	for _, s := range ss {
		edges = append(edges, edge{s.Start, 1}, edge{s.End, -1})
	}
	sort.Slice(edges, func(i, j int) bool {
		return edges[i].at < edges[j].at || edges[i].at == edges[j].at && edges[i].delta < edges[j].delta
	})
	n, most := 0, 0
	for _, e := range edges {
		n += e.delta
		most = max(most, n)
	}
	return most
}
