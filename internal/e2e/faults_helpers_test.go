//go:build unix

package e2e

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/runner"
)

// faultHeartbeat is the heartbeat interval of the nodes in the fault tests:
// short, so that loss is quick to see, but long enough that a loaded machine
// does not make a live node miss three in a row.
const faultHeartbeat = 300 * time.Millisecond

// taskStatus is what `fabric status --json` says of a task.
type taskStatus struct {
	State  string
	Note   string
	Record struct{ Node, Error, Message string }
	Result *struct {
		ExitCode int `json:"exit_code"`
		Stdout   string
		Error    string
		Message  string
	}
}

// status runs `fabric status --json` (with --wait when wait) on id.
func status(t *testing.T, env []string, id string, wait bool) (taskStatus, int) {
	t.Helper()
	args := []string{"status", "--json", id}
	if wait {
		args = append(args, "--wait")
	}
	out, errOut, code := fabric(t, env, args...)
	var st taskStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("fabric %s: code %d, %v: %s %s", strings.Join(args, " "), code, err, out, errOut)
	}
	return st, code
}

// killGroupLater kills, when the test ends, the process group a task's shell
// leads (it printed its pid): a node killed with SIGKILL leaves its tasks
// running.
func killGroupLater(t *testing.T, pidText string) {
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 1 {
		t.Fatalf("bad pid %q", pidText)
	}
	t.Cleanup(func() {
		syscall.Kill(-pid, syscall.SIGKILL)
		deadline := time.Now().Add(5 * time.Second)
		for runner.Alive(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// hubPort returns the port of a nats:// URL.
func hubPort(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Port() == "" {
		t.Fatalf("hub URL %q: %v", raw, err)
	}
	return u.Port()
}

// fileLines returns the lines of path ("" lines dropped), nil if it does not
// exist.
func fileLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// countOf counts the lines equal to s.
func countOf(lines []string, s string) int {
	n := 0
	for _, l := range lines {
		if l == s {
			n++
		}
	}
	return n
}

// tempDir is a directory for a test's marker files.
func tempDir(t *testing.T, name string) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// match returns the first submatch of re in text (or the match), failing
// the test if there is none.
func match(t *testing.T, text, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no %q in %q", re, text)
	}
	return m[len(m)-1]
}
