package fabrictest

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/worker"
)

func TestMain(m *testing.M) { Main(m) }

// outcome is what a helper did to the test it was given.
type outcome struct {
	skipped, failed string
}

// recorder is a testing.TB that records Skip and Fatal instead of acting
// on them, ending the goroutine as they would.
type recorder struct {
	testing.TB
	out outcome
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.out.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.out.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// try runs f with a recorder standing in for t, in a goroutine of its own
// (as Skip and Fatal end it), and returns what f did to it.
func try(t *testing.T, f func(testing.TB)) outcome {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.out
}

func TestNeed(t *testing.T) {
	missing := fmt.Errorf("no such file")
	for _, tt := range []struct {
		name, ci   string
		err        error
		skip, fail bool
	}{
		{"present", "", nil, false, false},
		{"present under CI", "true", nil, false, false},
		{"missing", "", missing, true, false},
		{"missing, CI not true", "1", missing, true, false},
		{"missing under CI", "true", missing, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			got := try(t, func(tb testing.TB) { Need(tb, "the widget", tt.err) })
			if (got.skipped != "") != tt.skip || (got.failed != "") != tt.fail {
				t.Fatalf("Need(CI=%q, %v) = %+v, want skip %v, fail %v", tt.ci, tt.err, got, tt.skip, tt.fail)
			}
			if tt.err != nil && !strings.Contains(got.skipped+got.failed, "the widget: no such file") {
				t.Fatalf("Need's message %+v does not name the part and the error", got)
			}
		})
	}
}

func TestEventually(t *testing.T) {
	polls := 0
	got := try(t, func(tb testing.TB) {
		Eventually(tb, time.Minute, "the third poll", func() bool { polls++; return polls == 3 })
	})
	if got != (outcome{}) || polls != 3 {
		t.Fatalf("Eventually on a condition true at the third poll: %+v after %d polls", got, polls)
	}
	got = try(t, func(tb testing.TB) {
		Eventually(tb, 20*time.Millisecond, "what never happens", func() bool { return false })
	})
	if !strings.Contains(got.failed, "what never happens") {
		t.Fatalf("Eventually on a condition never true: %+v, want a failure naming it", got)
	}
}

// TestStartHubAndWorker: a JetStream hub without a StoreDir gets one, and
// a worker with the defaults takes tasks on the linux/amd64 subject as n1.
func TestStartHubAndWorker(t *testing.T) {
	h := StartHub(t, hub.Config{JetStream: true})
	if !h.Server().JetStreamEnabled() {
		t.Fatal("JetStream is off")
	}
	StartWorker(t, Connect(t, h.ClientURL()), worker.Config{})
	nc := Connect(t, h.ClientURL())
	msg, err := nc.Request("fabric.task.linux.amd64.any.n1", []byte("echo ran"), 10*time.Second)
	if err != nil || !strings.Contains(string(msg.Data), "ran\\n") {
		t.Fatalf("task on n1's linux/amd64 subject: %v %q", err, msg.Data)
	}
}

func TestStartSSHD(t *testing.T) {
	s := StartSSHD(t, SSHDOptions{})
	c, err := net.DialTimeout("tcp", s.Addr(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if line, _ := bufio.NewReader(c).ReadString('\n'); !strings.HasPrefix(line, "SSH-2.0-OpenSSH") {
		t.Fatalf("banner %q, want OpenSSH's", line)
	}
}

func TestMostAtOnce(t *testing.T) {
	for _, tc := range []struct {
		spans []Span
		want  int
	}{
		{nil, 0},
		{[]Span{{Start: 1, End: 5}}, 1},
		{[]Span{{Start: 1, End: 5}, {Start: 5, End: 9}}, 1}, // touching
		{[]Span{{Start: 1, End: 5}, {Start: 4, End: 9}, {Start: 2, End: 3}}, 2},
		{[]Span{{Start: 1, End: 9}, {Start: 2, End: 8}, {Start: 3, End: 7}}, 3},
	} {
		if got := MostAtOnce(tc.spans); got != tc.want {
			t.Errorf("MostAtOnce(%v) = %d, want %d", tc.spans, got, tc.want)
		}
	}
}

func TestStampedSpans(t *testing.T) {
	dir := t.TempDir()
	out, err := exec.Command("sh", "-c", Stamped(dir, "a", "true")).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	ss := Spans(t, dir)
	if len(ss) != 1 || ss[0].Name != "a" || ss[0].Start <= 0 || ss[0].End < ss[0].Start {
		t.Fatalf("Spans = %+v", ss)
	}
}
