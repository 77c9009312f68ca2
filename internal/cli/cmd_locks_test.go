package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/locks"
)

func TestWriteLocks(t *testing.T) {
	var b strings.Builder
	if err := writeLocks(&b, nil); err != nil || b.String() != "no task holds or waits for a lock\n" {
		t.Fatalf("no locks: %q, %v", b.String(), err)
	}
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	q := locks.Queue{Name: "build", Entries: []locks.Entry{
		{Owner: "t1", Max: 2, Holding: true, Since: since, Info: locks.Info{Node: "n1", What: "make"}},
		{Owner: "t2", Max: 2, Holding: true, Ahead: 1, Since: since, Info: locks.Info{Node: "n2", What: "make test"}},
		{Owner: "t3", Max: 2, Ahead: 2, Since: since, Info: locks.Info{Node: "n1", What: "docker build ."}},
	}}
	b.Reset()
	if err := writeLocks(&b, []locks.Queue{q}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[1], "build:2") || !strings.Contains(lines[1], "holding") ||
		!strings.Contains(lines[3], "waiting (2 ahead)") || !strings.Contains(lines[3], "docker build .") {
		t.Fatalf("table:\n%s", b.String())
	}
}
