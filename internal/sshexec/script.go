package sshexec

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fabric-run/fabric/internal/wire"
)

// remoteCommand is the one command line every session asks sshd to run. sshd
// hands it to the user's login shell, which may be bash, zsh, fish or csh: it
// holds nothing any of them would treat specially. It replaces that shell
// with /bin/sh reading its program from the session's standard input, so the
// user's shell never parses any of the task, and the sh is the process sshd
// started: the leader of the session and process group sshd creates for every
// session. The program is one { ... } group, which sh reads and parses whole
// before it runs any of it; the group's first act takes standard input away
// from everything it starts.
const remoteCommand = "exec /bin/sh -s"

// markerPrefix starts the control lines the remote program writes to stderr
// before the command starts. A nonce follows, so that no output of the
// command can pass for one.
const markerPrefix = "fabric-"

// Control line verbs: "fabric-<nonce> pid <pgid>" (the command starts now,
// in process group pgid) or "fabric-<nonce> fail <why>" (it did not start).
const (
	verbPID  = "pid"
	verbFail = "fail"
)

// Reasons a command did not start, as written after "fail".
const (
	failCwdMissing = "cwd-missing"
	failCwdNotDir  = "cwd-notdir"
	failCwdDenied  = "cwd-denied"
	failNotFound   = "not-found"
)

// watchdogGrace is how long after the task's timeout the remote watchdog
// kills the process group by itself, should the pool not have done it.
const watchdogGrace = 5 * time.Second

// program is the remote sh program for one task.
type program struct {
	nonce   string
	shell   string // absolute path of the shell for a command
	command string
	argv    []string
	cwd     string
	env     map[string]string
	timeout time.Duration
}

// newNonce returns 16 random hex digits.
func newNonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// marker is the start of this program's control lines.
func (p *program) marker() string { return markerPrefix + p.nonce + " " }

// String renders the program. It is one { ... } group, which sh parses
// whole before running any of it: a program cut short in transit is a
// syntax error and runs nothing. Every path through it ends in exec or
// exit, so sh never reads on past it.
func (p *program) String() string {
	var b strings.Builder
	m := quote(markerPrefix + p.nonce)
	b.WriteString("{\nexec </dev/null\n")
	if p.cwd != "" {
		d := quote(dirArg(p.cwd))
		fmt.Fprintf(&b, "if ! cd %s 2>/dev/null; then\n", d)
		fmt.Fprintf(&b, "  if [ ! -e %s ]; then w=%s; elif [ ! -d %s ]; then w=%s; else w=%s; fi\n",
			d, failCwdMissing, d, failCwdNotDir, failCwdDenied)
		fmt.Fprintf(&b, "  printf '%%s %s %%s\\n' %s \"$w\" >&2; exit 127\nfi\n", verbFail, m)
	}
	if secs := watchdogSeconds(p.timeout); secs > 0 {
		// The watchdog: kills the process group if the command outlives its
		// timeout by watchdogGrace, whatever became of the connection. It
		// polls, so that it is gone within a second of the command. It
		// starts before the task's environment applies (PATH, IFS).
		fmt.Fprintf(&b, "(n=0; while kill -0 \"$$\" 2>/dev/null; do if [ \"$n\" -ge %d ]; then kill -KILL \"-$$\" 2>/dev/null; exit 0; fi; sleep 1; n=$((n+1)); done) </dev/null >/dev/null 2>&1 &\n", secs)
	}
	for _, k := range slices.Sorted(maps.Keys(p.env)) {
		fmt.Fprintf(&b, "%s=%s; export %s\n", k, quote(p.env[k]), k)
	}
	if p.command == "" {
		fmt.Fprintf(&b, "if ! command -v %s >/dev/null 2>&1; then printf '%%s %s %s\\n' %s >&2; exit 127; fi\n",
			quote(p.argv[0]), verbFail, failNotFound, m)
	}
	fmt.Fprintf(&b, "printf '%%s %s %%s\\n' %s \"$$\" >&2\n", verbPID, m)
	if p.command != "" {
		fmt.Fprintf(&b, "exec %s -c %s\n", quote(p.shell), quote(p.command))
	} else {
		b.WriteString("exec")
		for _, a := range p.argv {
			b.WriteString(" " + quote(a))
		}
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// watchdogSeconds is when, in whole seconds, the watchdog fires.
func watchdogSeconds(timeout time.Duration) int {
	if timeout <= 0 {
		return 0
	}
	return int((timeout + watchdogGrace + time.Second - 1) / time.Second)
}

// dirArg keeps a directory that starts with '-' from reading as an option.
func dirArg(d string) string {
	if strings.HasPrefix(d, "-") {
		return "./" + d
	}
	return d
}

// quote returns s as one POSIX sh word: as is when it holds only characters
// no shell treats specially, else in single quotes, with each ' written as
// '\”. The shell reads back exactly s.
func quote(s string) string {
	if s == "" {
		return "''"
	}
	if strings.IndexFunc(s, needsQuote) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func needsQuote(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return false
	}
	return !strings.ContainsRune("-_./:,+@%=", r)
}

// killScript kills process group pgid, or the process itself should it not
// lead a group.
func killScript(pgid int) string {
	g := strconv.Itoa(pgid)
	return "kill -KILL -" + g + " 2>/dev/null || kill -KILL " + g + " 2>/dev/null; exit 0\n"
}

// detectScript reports the remote's OS and CPU (uname -sm) and where bash
// is, if it has one.
const detectScript = `{
echo "fabric-uname $(uname -sm 2>/dev/null)"
echo "fabric-bash $(command -v bash 2>/dev/null)"
}
`

// checkTask returns why task cannot be run, or "" if it can.
func checkTask(task *wire.Task) string {
	if task.Command == "" && len(task.Argv) == 0 {
		return "the task has neither a command nor argv"
	}
	if task.Command == "" && task.Argv[0] == "" {
		return "the task's argv[0] is empty"
	}
	if strings.IndexByte(task.Command, 0) >= 0 {
		return "the command contains a NUL byte, which no shell can receive"
	}
	for i, a := range task.Argv {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Sprintf("argv[%d] contains a NUL byte, which no program can receive", i)
		}
	}
	if strings.IndexByte(task.Cwd, 0) >= 0 {
		return "the working directory contains a NUL byte"
	}
	for k, v := range task.Env {
		if !validEnvName(k) {
			return fmt.Sprintf("environment variable name %q is not valid: use letters, digits and '_', not starting with a digit", k)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return fmt.Sprintf("environment variable %s contains a NUL byte", k)
		}
	}
	return ""
}

func validEnvName(k string) bool {
	if k == "" {
		return false
	}
	for i, r := range k {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
