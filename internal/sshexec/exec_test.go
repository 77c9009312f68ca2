//go:build unix

package sshexec

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/wire"
)

// streams collects what Run passes to onOutput.
type streams struct {
	mu       sync.Mutex
	out, err bytes.Buffer
	calls    int
}

func (s *streams) on(stream wire.Stream, p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if stream == wire.Stdout {
		s.out.Write(p)
	} else {
		s.err.Write(p)
	}
}

func run(t *testing.T, p *Pool, h Host, task *wire.Task) *wire.Result {
	t.Helper()
	if task.ID == "" {
		task.ID = wire.NewTaskID()
	}
	res, err := p.Run(context.Background(), h, task, nil)
	if err != nil {
		t.Fatalf("Run(%q) error = %v", task.Display(), err)
	}
	return res
}

func TestRunExitCodesAndStreams(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	p := newTestPool(t, sshd.testConfig(t))
	h := sshd.Host()

	var got streams
	task := &wire.Task{ID: "t-1", Command: "echo out; echo err >&2; echo more; exit 3"}
	res, err := p.Run(context.Background(), h, task, got.on)
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if res.ID != "t-1" || res.Node != "testhost" {
		t.Errorf("ID, Node = %q, %q; want t-1, testhost", res.ID, res.Node)
	}
	if res.ExitCode != 3 || res.Error != wire.ErrNone || res.Signal != "" {
		t.Errorf("ExitCode, Error, Signal = %d, %q, %q; want 3, none, none (message %q)", res.ExitCode, res.Error, res.Signal, res.Message)
	}
	if res.Stdout != "out\nmore\n" || res.Stderr != "err\n" {
		t.Errorf("Stdout, Stderr = %q, %q; want %q, %q", res.Stdout, res.Stderr, "out\nmore\n", "err\n")
	}
	if res.StdoutBytes != 9 || res.StderrBytes != 4 || res.StdoutTruncated || res.StderrTruncated {
		t.Errorf("byte counts = %d, %d (truncated %v, %v); want 9, 4, not truncated",
			res.StdoutBytes, res.StderrBytes, res.StdoutTruncated, res.StderrTruncated)
	}
	if got.out.String() != res.Stdout || got.err.String() != res.Stderr {
		t.Errorf("streamed stdout, stderr = %q, %q; want what the result holds", got.out.String(), got.err.String())
	}
	if res.Started.IsZero() || res.Duration <= 0 || time.Since(res.Started) < res.Duration.D() {
		t.Errorf("Started, Duration = %v, %v; want a start in the past and a positive duration", res.Started, res.Duration.D())
	}

	if res := run(t, p, h, &wire.Task{Command: "true"}); res.ExitCode != 0 || res.Error != "" || res.Stdout != "" {
		t.Errorf("true: %+v, want exit 0 and no output", res)
	}
	res = run(t, p, h, &wire.Task{Command: "kill -TERM $$"})
	if res.ExitCode != -1 || res.Signal != "SIGTERM" || res.Error != "" {
		t.Errorf("kill -TERM $$: ExitCode, Signal, Error = %d, %q, %q; want -1, SIGTERM, none", res.ExitCode, res.Signal, res.Error)
	}
}

func TestRunUsesBash(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	p := newTestPool(t, sshd.testConfig(t))
	// [[ ]] and $BASH_VERSION exist in bash only.
	res := run(t, p, sshd.Host(), &wire.Task{Command: `[[ -n $BASH_VERSION ]] && echo bash`})
	if res.ExitCode != 0 || res.Stdout != "bash\n" {
		t.Errorf("bash check: exit %d, stdout %q, stderr %q; want 0, \"bash\\n\"", res.ExitCode, res.Stdout, res.Stderr)
	}

	cfg := sshd.testConfig(t)
	cfg.Shell = ShellSh
	psh := newTestPool(t, cfg)
	res = run(t, psh, sshd.Host(), &wire.Task{Command: `echo "${BASH_VERSION:-none}"`})
	if res.Stdout != "none\n" {
		t.Errorf("with Shell sh: BASH_VERSION = %q, want none", res.Stdout)
	}
}

func TestRunCwdAndEnv(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	p := newTestPool(t, sshd.testConfig(t))
	h := sshd.Host()
	dir := filepath.Join(t.TempDir(), "a dir with 'quotes' and $dollar")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	value := "it's \"quoted\" $HOME `date` \\ \n\ttab; rm -rf /nope"
	res := run(t, p, h, &wire.Task{
		Command: `pwd; printf '%s|%s|%s' "$GREETING" "$EMPTY" "${UNSET-unset}"`,
		Cwd:     dir,
		Env:     map[string]string{"GREETING": value, "EMPTY": ""},
	})
	want := dir + "\n" + value + "||unset"
	if res.ExitCode != 0 || res.Stdout != want {
		t.Errorf("pwd and env:\n got %q (exit %d, stderr %q)\nwant %q", res.Stdout, res.ExitCode, res.Stderr, want)
	}

	missing := filepath.Join(t.TempDir(), "missing")
	res = run(t, p, h, &wire.Task{Command: "echo ran", Cwd: missing})
	if res.Error != wire.ErrStartFailed || res.Stdout != "" || !strings.Contains(res.Message, "does not exist") || !strings.Contains(res.Message, missing) {
		t.Errorf("missing cwd: Error %q, Stdout %q, Message %q; want start_failed naming the directory", res.Error, res.Stdout, res.Message)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	res = run(t, p, h, &wire.Task{Command: "echo ran", Cwd: file})
	if res.Error != wire.ErrStartFailed || !strings.Contains(res.Message, "not a directory") {
		t.Errorf("file as cwd: Error %q, Message %q; want start_failed, not a directory", res.Error, res.Message)
	}
}

func TestRunArgvArrivesByteForByte(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	p := newTestPool(t, sshd.testConfig(t))
	dir := t.TempDir()
	argv := append([]string{"printf", `%s\0`}, awkward...)
	res := run(t, p, sshd.Host(), &wire.Task{Argv: argv, Cwd: dir})
	if res.ExitCode != 0 {
		t.Fatalf("printf exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
	got := strings.Split(strings.TrimSuffix(res.Stdout, "\x00"), "\x00")
	if len(got) != len(awkward) {
		t.Fatalf("got %d arguments %q, want %d", len(got), got, len(awkward))
	}
	for i := range awkward {
		if got[i] != awkward[i] {
			t.Errorf("argument %d = %q, want %q", i, got[i], awkward[i])
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "PWNED")); err == nil {
		t.Errorf("an argument was executed: %s exists", filepath.Join(dir, "PWNED"))
	}

	res = run(t, p, sshd.Host(), &wire.Task{Argv: []string{"no-such-program-fabric", "x"}})
	if res.Error != wire.ErrStartFailed || !strings.Contains(res.Message, `"no-such-program-fabric" not found`) {
		t.Errorf("missing program: Error %q, Message %q; want start_failed, not found", res.Error, res.Message)
	}
}

func TestRunCommandArrivesByteForByte(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	p := newTestPool(t, sshd.testConfig(t))
	// Every byte but NUL, through a quoted here-document: the shell copies
	// its body as it received it.
	var body strings.Builder
	for b := 1; b < 256; b++ {
		body.WriteByte(byte(b))
	}
	body.WriteString("\n" + strings.Join(awkward, "\n"))
	cmd := "cat <<'FABRIC_EOF'\n" + body.String() + "\nFABRIC_EOF"
	res := run(t, p, sshd.Host(), &wire.Task{Command: cmd})
	if res.ExitCode != 0 || res.Stdout != body.String()+"\n" {
		t.Errorf("here-document came back changed (exit %d, stderr %q):\n got %q\nwant %q", res.ExitCode, res.Stderr, res.Stdout, body.String()+"\n")
	}
}

func TestRunRejectsBadTasks(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	p := newTestPool(t, sshd.testConfig(t))
	for _, tc := range []struct {
		name string
		task wire.Task
		want string
	}{
		{"empty", wire.Task{}, "neither a command nor argv"},
		{"NUL in command", wire.Task{Command: "echo a\x00b"}, "NUL byte"},
		{"NUL in argv", wire.Task{Argv: []string{"echo", "a\x00"}}, "argv[1] contains a NUL byte"},
		{"bad env name", wire.Task{Command: "true", Env: map[string]string{"A-B": "x"}}, `"A-B" is not valid`},
		{"env name with =", wire.Task{Command: "true", Env: map[string]string{"A=B": "x"}}, `"A=B" is not valid`},
	} {
		res := run(t, p, sshd.Host(), &tc.task)
		if res.Error != wire.ErrBadRequest || !strings.Contains(res.Message, tc.want) {
			t.Errorf("%s: Error %q, Message %q; want bad_request mentioning %q", tc.name, res.Error, res.Message, tc.want)
		}
	}
	if st := p.Stats(); len(st) != 0 {
		t.Errorf("bad tasks dialled the host: %+v", st)
	}
}

func TestRunOutputTruncated(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	p := newTestPool(t, sshd.testConfig(t))
	var got streams
	task := &wire.Task{
		ID:          "big",
		Command:     "head -c 100000 /dev/zero | tr '\\0' a; printf TAIL; head -c 5000 /dev/zero | tr '\\0' e >&2",
		OutputLimit: 1000,
	}
	res, err := p.Run(context.Background(), sshd.Host(), task, got.on)
	if err != nil {
		t.Fatal(err)
	}
	if res.StdoutBytes != 100004 || !res.StdoutTruncated {
		t.Errorf("StdoutBytes, Truncated = %d, %v; want 100004, true", res.StdoutBytes, res.StdoutTruncated)
	}
	if res.StderrBytes != 5000 || !res.StderrTruncated {
		t.Errorf("StderrBytes, Truncated = %d, %v; want 5000, true", res.StderrBytes, res.StderrTruncated)
	}
	if !strings.HasPrefix(res.Stdout, strings.Repeat("a", 500)) || !strings.HasSuffix(res.Stdout, "TAIL") ||
		!strings.Contains(res.Stdout, "omitted") || len(res.Stdout) > 1100 {
		t.Errorf("Stdout (%d bytes) = %.80q...%q; want 500 a's, a marker, the tail ending TAIL", len(res.Stdout), res.Stdout, res.Stdout[max(0, len(res.Stdout)-20):])
	}
	if got.out.Len() != 100004 || got.err.Len() != 5000 {
		t.Errorf("streamed %d and %d bytes; want all of it: 100004 and 5000", got.out.Len(), got.err.Len())
	}
}

// startSleeper runs a command that records its process group and sleeps in
// two processes; it returns the pgid once the group is running.
func startSleeper(t *testing.T, p *Pool, h Host, ctx context.Context, timeout time.Duration) (pgid int, done chan *wire.Result) {
	t.Helper()
	pidFile := filepath.Join(t.TempDir(), "pid")
	done = make(chan *wire.Result, 1)
	task := &wire.Task{
		ID:      "sleeper",
		Command: "echo $$ > " + quote(pidFile) + "; sleep 300 & sleep 300; wait",
		Timeout: wire.Duration(timeout),
	}
	go func() {
		res, err := p.Run(ctx, h, task, nil)
		if err != nil {
			t.Errorf("Run = %v", err)
		}
		done <- res
	}()
	waitFor(t, 10*time.Second, "the command to record its pid", func() bool {
		b, err := os.ReadFile(pidFile)
		if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
			return false
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		st, ok := procStat(pid)
		pgid = st.PGID
		return ok && len(groupMembers(pgid)) >= 3 // bash and two sleeps
	})
	if own, _ := procStat(os.Getpid()); pgid == own.PGID || pgid <= 1 {
		t.Fatalf("remote command runs in process group %d, the test's own", pgid)
	}
	return pgid, done
}

func TestRunTimeoutKillsRemoteProcessGroup(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	p := newTestPool(t, sshd.testConfig(t))
	start := time.Now()
	pgid, done := startSleeper(t, p, sshd.Host(), context.Background(), time.Second)
	res := <-done
	if res == nil {
		t.FailNow()
	}
	if took := time.Since(start); took > 6*time.Second {
		t.Errorf("timed-out Run took %v, want about 1s", took)
	}
	if res.Error != wire.ErrTimeout || res.Signal != "SIGKILL" || res.ExitCode != -1 {
		t.Errorf("Error, Signal, ExitCode = %q, %q, %d; want timeout, SIGKILL, -1", res.Error, res.Signal, res.ExitCode)
	}
	if !strings.Contains(res.Message, "Timed out after 1s on testhost") {
		t.Errorf("Message = %q, want it to say it timed out after 1s", res.Message)
	}
	waitFor(t, 5*time.Second, "the remote process group to be gone", func() bool { return len(groupMembers(pgid)) == 0 })
}

func TestRunCancelKillsRemoteProcessGroup(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	p := newTestPool(t, sshd.testConfig(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pgid, done := startSleeper(t, p, sshd.Host(), ctx, time.Minute)
	cancel()
	var res *wire.Result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of its cancellation")
	}
	if res == nil {
		t.FailNow()
	}
	if res.Error != wire.ErrCancelled || res.Signal != "SIGKILL" {
		t.Errorf("Error, Signal = %q, %q; want cancelled, SIGKILL (message %q)", res.Error, res.Signal, res.Message)
	}
	waitFor(t, 5*time.Second, "the remote process group to be gone", func() bool { return len(groupMembers(pgid)) == 0 })
}

func TestRunCallerDeadlineIsTimeout(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	p := newTestPool(t, sshd.testConfig(t))
	// Connect first: the deadline is for the command, not for a dial and
	// handshake that a loaded machine may take longer than it over.
	if res, err := p.Run(context.Background(), sshd.Host(), &wire.Task{Command: "true"}, nil); err != nil || res.ExitCode != 0 {
		t.Fatalf("warm-up: %+v, %v", res, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	res, err := p.Run(ctx, sshd.Host(), &wire.Task{Command: "sleep 300"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != wire.ErrTimeout || !strings.Contains(res.Message, "deadline") {
		t.Errorf("Error, Message = %q, %q; want timeout at the caller's deadline", res.Error, res.Message)
	}
}

// TestWatchdogKillsWhenConnectionIsLost drops the connection under a
// running command without touching the command: the pool reports the node
// lost, and the remote watchdog kills the process group at the timeout
// plus its grace, with nobody connected.
func TestWatchdogKillsWhenConnectionIsLost(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	p := newTestPool(t, sshd.testConfig(t))
	start := time.Now()
	pgid, done := startSleeper(t, p, sshd.Host(), context.Background(), time.Second)
	for _, pid := range sshd.ConnectionPIDs() {
		syscall.Kill(pid, syscall.SIGKILL) // sshd's side only, not the command
	}
	res := <-done
	if res == nil {
		t.FailNow()
	}
	if res.Error != wire.ErrNodeLost || !strings.Contains(res.Message, "watchdog") {
		t.Errorf("Error, Message = %q, %q; want node_lost mentioning the watchdog", res.Error, res.Message)
	}
	if n := len(groupMembers(pgid)); n == 0 {
		t.Fatalf("the process group died with the connection; the test shows nothing")
	}
	deadline := time.Second + watchdogGrace + 3*time.Second
	waitFor(t, deadline-time.Since(start), "the watchdog to kill the process group", func() bool { return len(groupMembers(pgid)) == 0 })
	if took := time.Since(start); took < time.Second+watchdogGrace-time.Second {
		t.Errorf("group gone after %v, before the watchdog's time", took)
	}
}
