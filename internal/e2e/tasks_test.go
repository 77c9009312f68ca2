//go:build unix

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSubmitThenReadFromOtherProcesses: with nothing configured, submit
// starts the local hub in the background and returns a task id; other fabric
// processes wait for it and read it back, result included, even after the
// hub itself has stopped (from the store on disk).
func TestSubmitThenReadFromOtherProcesses(t *testing.T) {
	t.Cleanup(func() { stopLocalHub(t) })
	out, errOut, code := fabric(t, nil, "submit", "--", "sleep 0.3; echo submitted-output; exit 4")
	id := strings.TrimSpace(out)
	if code != 0 || !regexp.MustCompile(`^[a-z0-9]{20}$`).MatchString(id) {
		t.Fatalf("submit: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, _, code = fabric(t, nil, "status", "--wait", id)
	if code != 4 || !strings.Contains(out, "state    failed") || !strings.Contains(out, "submitted-output") {
		t.Fatalf("status --wait: code %d\n%s", code, out)
	}
	stopLocalHub(t)
	out, errOut, code = fabric(t, nil, "status", id)
	if code != 0 || !strings.Contains(out, "result   exit 4") || !strings.Contains(out, "submitted-output") {
		t.Fatalf("status after the hub stopped: code %d\n%s\n%s", code, out, errOut)
	}
	out, _, code = fabric(t, nil, "logs", id)
	if code != 0 || out != "submitted-output\n" {
		t.Fatalf("logs: code %d, %q", code, out)
	}
	// The record was written running; the list shows what the result says.
	out, _, code = fabric(t, nil, "tasks")
	if code != 0 || !regexp.MustCompile(`(?m)^`+id+` +failed +`).MatchString(out) {
		t.Fatalf("tasks: code %d\n%s", code, out)
	}
}

func TestLogsFollowAndCancel(t *testing.T) {
	t.Cleanup(func() { stopLocalHub(t) })
	flag := filepath.Join(t.TempDir(), "go")
	out, _, _ := fabric(t, nil, "submit", "--", "while [ ! -e "+flag+" ]; do sleep 0.02; done; echo live-a; echo live-b >&2")
	id := strings.TrimSpace(out)
	logs := start(t, nil, bin.fabric, "logs", "-f", id)
	logs.waitOutput(t, "following task")
	os.WriteFile(flag, nil, 0o644) // the task prints only once we follow it
	if code := logs.wait(t); code != 0 || logs.stdoutText() != "live-a\n" || !strings.Contains(logs.output(), "live-b") {
		t.Fatalf("logs -f: code %d, output %q", code, logs.output())
	}

	out, _, _ = fabric(t, nil, "submit", "--", "sleep 300")
	id = strings.TrimSpace(out)
	if _, errOut, code := fabric(t, nil, "cancel", id); code != 0 {
		t.Fatalf("cancel: code %d: %s", code, errOut)
	}
	out, _, code := fabric(t, nil, "status", "--wait", id)
	if code != 130 || !strings.Contains(out, "state    cancelled") {
		t.Fatalf("status after cancel: code %d\n%s", code, out)
	}
	if _, errOut, code := fabric(t, nil, "status", "nosuchtask"); code != 1 || !strings.Contains(errOut, "unknown task nosuchtask") {
		t.Fatalf("unknown task: code %d, %s", code, errOut)
	}
}
