package runner

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/wire"
)

func TestExitCodeAndStreams(t *testing.T) {
	res := Run(context.Background(), Spec{Command: "echo out; echo err >&2; exit 3"}, nil)
	if res.Error != wire.ErrNone || res.ExitCode != 3 || res.Stdout != "out\n" || res.Stderr != "err\n" {
		t.Fatalf("result = %+v", res)
	}
	if res.StdoutBytes != 4 || res.StderrBytes != 4 || res.Duration <= 0 || res.Started.IsZero() {
		t.Fatalf("counts/timing = %+v", res)
	}
}

func TestArgvRunsWithoutShell(t *testing.T) {
	res := Run(context.Background(), Spec{Argv: []string{"echo", "$HOME", "a  b"}}, nil)
	if res.Stdout != "$HOME a  b\n" {
		t.Fatalf("stdout = %q", res.Stdout)
	}
	res = Run(context.Background(), Spec{Argv: []string{"no-such-program-fabric"}}, nil)
	if res.Error != wire.ErrStartFailed || !strings.Contains(res.Message, "no-such-program-fabric") {
		t.Fatalf("result = %+v", res)
	}
}

func TestDirAndEnv(t *testing.T) {
	dir := t.TempDir()
	res := Run(context.Background(), Spec{Command: `pwd; echo "$FABRIC_T"`, Dir: dir, Env: map[string]string{"FABRIC_T": "v 1"}}, nil)
	if res.Stdout != dir+"\nv 1\n" {
		t.Fatalf("stdout = %q", res.Stdout)
	}
	res = Run(context.Background(), Spec{Command: "pwd", Dir: dir + "/missing"}, nil)
	if res.Error != wire.ErrStartFailed || !strings.Contains(res.Message, "working directory") {
		t.Fatalf("missing dir: %+v", res)
	}
}

func TestSignalled(t *testing.T) {
	res := Run(context.Background(), Spec{Command: "kill -TERM $$"}, nil)
	if res.Signal != "SIGTERM" || res.ExitCode != 143 || res.Error != wire.ErrNone {
		t.Fatalf("result = %+v", res)
	}
}

// TestTimeoutKillsWholeGroup is the process-group kill: the shell, a
// background sleep and a foreground sleep all die at the timeout.
func TestTimeoutKillsWholeGroup(t *testing.T) {
	start := time.Now()
	res := Run(context.Background(), Spec{Command: "sleep 300 & echo $!; sleep 300 & echo $!; echo $$; wait", Timeout: 2 * time.Second}, nil)
	if res.Error != wire.ErrTimeout || res.Signal != "SIGKILL" {
		t.Fatalf("result = %+v", res)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("took %s", took)
	}
	pids := parsePids(t, res.Stdout, 3)
	for _, pid := range pids {
		waitGone(t, pid)
	}
}

func TestCancelKillsWholeGroup(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu  sync.Mutex
		out strings.Builder
	)
	started := make(chan struct{})
	var once sync.Once
	go func() {
		<-started
		cancel()
	}()
	res := Run(ctx, Spec{Command: "sleep 300 & echo $!; echo $$; wait"}, func(s wire.Stream, p []byte) {
		mu.Lock()
		out.Write(p)
		if strings.Count(out.String(), "\n") >= 2 {
			once.Do(func() { close(started) })
		}
		mu.Unlock()
	})
	if res.Error != wire.ErrCancelled {
		t.Fatalf("result = %+v", res)
	}
	for _, pid := range parsePids(t, res.Stdout, 2) {
		waitGone(t, pid)
	}
}

func TestLateBackgroundOutputIsKept(t *testing.T) {
	res := Run(context.Background(), Spec{Command: "(sleep 0.2; echo late) & echo early"}, nil)
	if res.Stdout != "early\nlate\n" {
		t.Fatalf("stdout = %q", res.Stdout)
	}
}

// TestEscapedHolderCannotHangTheTask: a process that leaves the group but
// keeps the output pipe open is cut off after the kill grace.
func TestEscapedHolderCannotHangTheTask(t *testing.T) {
	start := time.Now()
	res := Run(context.Background(), Spec{Command: "setsid sleep 300 & echo $!", Timeout: 500 * time.Millisecond}, nil)
	pids := parsePids(t, res.Stdout, 1)
	t.Cleanup(func() { p, _ := os.FindProcess(pids[0]); p.Kill() })
	if res.Error != wire.ErrTimeout {
		t.Fatalf("result = %+v", res)
	}
	if took := time.Since(start); took > killGrace+20*time.Second {
		t.Fatalf("took %s", took)
	}
}

func TestOutputCapTruncatesAndCounts(t *testing.T) {
	var streamed int64
	var mu sync.Mutex
	res := Run(context.Background(), Spec{Command: "head -c 300000 /dev/zero | tr '\\0' x", OutputLimit: 1000}, func(s wire.Stream, p []byte) {
		mu.Lock()
		streamed += int64(len(p))
		mu.Unlock()
	})
	if !res.StdoutTruncated || res.StdoutBytes != 300000 || streamed != 300000 {
		t.Fatalf("truncated %v, bytes %d, streamed %d", res.StdoutTruncated, res.StdoutBytes, streamed)
	}
	if !strings.HasPrefix(res.Stdout, strings.Repeat("x", 500)+"\n[... fabric:") || !strings.HasSuffix(res.Stdout, "]\n"+strings.Repeat("x", 500)) {
		t.Fatalf("kept output = %q...", res.Stdout[:600])
	}
}

// TestHugeOutputAllocatesLittle streams 100 MiB and checks the bytes
// allocated stay near the cap: the reader reuses its buffer.
func TestHugeOutputAllocatesLittle(t *testing.T) {
	const limit = 1 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res := Run(context.Background(), Spec{Command: "head -c 104857600 /dev/zero", OutputLimit: limit}, func(wire.Stream, []byte) {})
	runtime.ReadMemStats(&after)
	if res.StdoutBytes != 100<<20 {
		t.Fatalf("bytes = %d", res.StdoutBytes)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2*limit+8<<20 {
		t.Fatalf("allocated %d bytes for 100 MiB of output with a %d cap", alloc, limit)
	}
}

func parsePids(t *testing.T, out string, n int) []int {
	t.Helper()
	f := strings.Fields(out)
	if len(f) < n {
		t.Fatalf("want %d pids in %q", n, out)
	}
	var pids []int
	for _, s := range f[:n] {
		p, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("pid %q: %v", s, err)
		}
		pids = append(pids, p)
	}
	return pids
}

// waitGone waits until pid is gone (or a zombie nobody has reaped yet).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if !Alive(pid) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process %d still alive", pid)
}
