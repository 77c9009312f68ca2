package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/wire"
)

// TestIdleTimeoutKillsASilentCommand: a command that printed once and then
// went quiet is killed at its idle timeout, with its own error kind, its
// group gone, and the output it printed kept.
func TestIdleTimeoutKillsASilentCommand(t *testing.T) {
	res := Run(context.Background(), Spec{Command: "echo started; echo $$; sleep 300", IdleTimeout: 300 * time.Millisecond, Timeout: time.Minute}, nil)
	if res.Error != wire.ErrIdleTimeout || !strings.Contains(res.Message, "printing nothing for 300ms") {
		t.Fatalf("result = %+v, want idle_timeout", res)
	}
	lines := strings.Fields(res.Stdout)
	if len(lines) != 2 || lines[0] != "started" {
		t.Fatalf("stdout = %q", res.Stdout)
	}
	var pid int
	fmt.Sscan(lines[1], &pid)
	if GroupAlive(pid) {
		t.Fatalf("process group %d still alive after the idle kill", pid)
	}
}

// TestIdleTimeoutSparesACommandThatKeepsPrinting: output on either stream
// resets the idle clock; the command runs to its end.
func TestIdleTimeoutSparesACommandThatKeepsPrinting(t *testing.T) {
	res := Run(context.Background(), Spec{
		Command:     "for i in 1 2 3 4 5 6 7 8; do echo $i; sleep 0.1; echo e$i >&2; sleep 0.1; done",
		IdleTimeout: time.Second, Timeout: time.Minute,
	}, nil)
	if res.Error != wire.ErrNone || res.ExitCode != 0 || !strings.HasSuffix(res.Stdout, "8\n") {
		t.Fatalf("result = %+v, want a clean run", res)
	}
}

// TestIdleTimeoutIsNotTheTotalTimeout: each limit reports itself.
func TestIdleTimeoutIsNotTheTotalTimeout(t *testing.T) {
	res := Run(context.Background(), Spec{Command: "while :; do echo tick; sleep 0.05; done", IdleTimeout: time.Minute, Timeout: 500 * time.Millisecond}, nil)
	if res.Error != wire.ErrTimeout {
		t.Fatalf("busy command past its total timeout: %+v, want timeout", res)
	}
}

// TestStdinStreamsThroughWithEOF: input is copied to the command, which
// sees all of it and then end of file.
func TestStdinStreamsThroughWithEOF(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef\n"), 1<<16) // 1 MiB+
	sum := sha256.Sum256(data)
	res := Run(context.Background(), Spec{Command: "sha256sum; echo EOF-SEEN", Stdin: bytes.NewReader(data), Timeout: time.Minute}, nil)
	want := fmt.Sprintf("%x  -\nEOF-SEEN\n", sum)
	if res.Error != wire.ErrNone || res.Stdout != want {
		t.Fatalf("result = %+v, want stdout %q", res, want)
	}
	for _, direct := range []bool{false, true} {
		res := Run(context.Background(), Spec{Command: "wc -c", Stdin: strings.NewReader("hello\n"), Direct: direct}, nil)
		if strings.TrimSpace(res.Stdout) != "6" {
			t.Fatalf("direct=%v: stdout = %q", direct, res.Stdout)
		}
	}
	res = Run(context.Background(), Spec{Command: "wc -c"}, nil)
	if strings.TrimSpace(res.Stdout) != "0" {
		t.Fatalf("no stdin: stdout = %q, want an empty input", res.Stdout)
	}
}

// endless is input that never ends until closed.
type endless struct {
	once   sync.Once
	closed chan struct{}
}

func (e *endless) Read(p []byte) (int, error) {
	select {
	case <-e.closed:
		return 0, io.ErrClosedPipe
	default:
		return copy(p, bytes.Repeat([]byte("y\n"), len(p)/2)), nil
	}
}

func (e *endless) Close() error {
	e.once.Do(func() { close(e.closed) })
	return nil
}

// blocked is input that has nothing yet, until closed.
type blocked struct{ endless }

func (b *blocked) Read(p []byte) (int, error) {
	<-b.closed
	return 0, io.ErrClosedPipe
}

// TestStdinCopyEndsWithTheCommand: a command that stops reading early, or
// never reads, ends; the copy ends with it whether it was writing or
// waiting for input.
func TestStdinCopyEndsWithTheCommand(t *testing.T) {
	e := &endless{closed: make(chan struct{})}
	res := Run(context.Background(), Spec{Command: "head -c 5", Stdin: e, Timeout: time.Minute}, nil)
	if res.Error != wire.ErrNone || res.Stdout != "y\ny\ny" {
		t.Fatalf("result = %+v", res)
	}
	b := &blocked{endless{closed: make(chan struct{})}}
	res = Run(context.Background(), Spec{Command: "echo done", Stdin: b, Timeout: time.Minute}, nil)
	if res.Error != wire.ErrNone || res.Stdout != "done\n" {
		t.Fatalf("result = %+v", res)
	}
	select {
	case <-b.closed:
	default:
		t.Fatal("input waiting for data was not closed when the command ended")
	}
}
