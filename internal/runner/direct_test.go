package runner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/wire"
)

func TestSimpleArgv(t *testing.T) {
	tests := []struct {
		cmd  string
		want []string // nil: not simple
	}{
		{"ls -la", []string{"ls", "-la"}},
		{"  make   -j8 test ", []string{"make", "-j8", "test"}},
		{"grep 'a b' \"c d\" '' x=1", []string{"grep", "a b", "c d", "", "x=1"}},
		{"/usr/bin/env", []string{"/usr/bin/env"}},
		{"./build.sh --fast", []string{"./build.sh", "--fast"}},
		{"uname -a;", []string{"uname", "-a"}},
		{"uname -a # comment", []string{"uname", "-a"}},
		{"go test ./... -run 'Test(A|B)'", []string{"go", "test", "./...", "-run", "Test(A|B)"}},
		{"printf \"%s\\n\" x", []string{"printf", "%s\\n", "x"}}, // "\n" in double quotes: kept, but...
		{"true", nil},                 // builtin
		{"echo hi", nil},              // builtin
		{"cd /tmp", nil},              // builtin
		{"exec ls", nil},              // builtin
		{"command ls", nil},           // builtin
		{"time ls", nil},              // keyword
		{"[ -f x ]", nil},             // builtin
		{"[[ -f x ]]", nil},           // keyword
		{"A=1 env", nil},              // assignment
		{"ls > out", nil},             // redirection
		{"ls 2>&1", nil},              // redirection
		{"ls | wc -l", nil},           // pipeline
		{"ls && pwd", nil},            // list
		{"ls; ls", nil},               // two commands
		{"ls &", nil},                 // background
		{"! ls", nil},                 // negation
		{"ls *.go", nil},              // glob
		{"ls file?", nil},             // glob
		{"ls [ab]", nil},              // glob
		{"echo{a,b}", nil},            // brace expansion
		{"ls ~", nil},                 // tilde
		{"ls ~/src", nil},             // tilde
		{"ls $HOME", nil},             // parameter
		{"ls \"$HOME\"", nil},         // parameter in quotes
		{"ls $(pwd)", nil},            // command substitution
		{"ls `pwd`", nil},             // command substitution
		{"ls a\\ b", nil},             // escape
		{"ls \"a\\\"b\"", nil},        // escape in quotes
		{"ls $'a\\tb'", nil},          // ANSI-C quoting
		{"ls <(true)", nil},           // process substitution
		{"(ls)", nil},                 // subshell
		{"{ ls; }", nil},              // group
		{"f() { ls; }", nil},          // function
		{"if true; then ls; fi", nil}, // compound
		{"ls 'unterminated", nil},     // syntax error
		{"", nil},
	}
	for _, tt := range tests {
		got, ok := simpleArgv(tt.cmd)
		if tt.cmd == "printf \"%s\\n\" x" {
			// printf is a builtin: not simple, whatever its words.
			tt.want = nil
		}
		if !ok {
			got = nil
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("simpleArgv(%q) = %q, %v; want %q", tt.cmd, got, ok, tt.want)
		}
	}
}

// directEnv is a test setup: a working directory with a symlink to it, an
// executable script, a script with no #! line, a file that is not
// executable, and a directory OLDPWD may name.
type directEnv struct {
	dir, link string
}

func newDirectEnv(t *testing.T) directEnv {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("no direct path on windows")
	}
	shell := DefaultShell()
	if err := DirectCheck(shell); err != nil {
		t.Skipf("direct path off with %s: %v", shell, err)
	}
	base := t.TempDir()
	dir := filepath.Join(base, "work")
	link := filepath.Join(base, "link")
	for _, d := range []string{dir, filepath.Join(dir, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	files := map[string]struct {
		body string
		mode os.FileMode
	}{
		"script.sh": {"#!/bin/sh\necho \"script $0 $*\"; echo err >&2; exit 7\n", 0o755},
		"noshebang": {"echo \"no shebang $0\"\n", 0o755},
		"notexec":   {"#!/bin/sh\necho never\n", 0o644},
	}
	for name, f := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(f.body), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	return directEnv{dir: dir, link: link}
}

// TestDirectIsExactlyTheShell runs tricky commands both ways, through bash
// and directly, and requires the same exit status, signal, error, stderr
// and stdout (an environment listing compared as a set of lines: bash's
// order of variables is its hash table's). It also checks which way each
// actually ran.
func TestDirectIsExactlyTheShell(t *testing.T) {
	e := newDirectEnv(t)
	envCmd, err := exec.LookPath("env")
	if err != nil {
		t.Skip("no env program")
	}
	_ = envCmd
	tests := []struct {
		name   string
		cmd    string
		dir    string
		env    map[string]string
		direct bool // expected to take the direct path
		asSet  bool // stdout compared as a set of lines
	}{
		{"environment", "env", e.dir, nil, true, true},
		{"environment from a symlinked dir", "env", e.link, nil, true, true},
		{"no working dir given", "env", "", nil, true, true},
		{"SHLVL set", "env", e.dir, map[string]string{"SHLVL": "5"}, true, true},
		{"SHLVL with a zero", "env", e.dir, map[string]string{"SHLVL": "05"}, true, true},
		{"SHLVL zero", "env", e.dir, map[string]string{"SHLVL": "0"}, true, true},
		{"SHLVL not a number", "env", e.dir, map[string]string{"SHLVL": "abc"}, false, true},
		{"SHLVL too high", "env", e.dir, map[string]string{"SHLVL": "999"}, false, true},
		{"OLDPWD a directory", "env", e.dir, map[string]string{"OLDPWD": "/"}, true, true},
		{"OLDPWD relative", "env", e.dir, map[string]string{"OLDPWD": "sub"}, true, true},
		{"OLDPWD missing", "env", e.dir, map[string]string{"OLDPWD": "/nonexistent"}, true, true},
		{"OLDPWD a file", "env", e.dir, map[string]string{"OLDPWD": "script.sh"}, true, true},
		{"OLDPWD empty", "env", e.dir, map[string]string{"OLDPWD": ""}, true, true},
		{"PWD stale", "env", e.dir, map[string]string{"PWD": "/nonexistent"}, true, true},
		{"PWD relative", "env", e.dir, map[string]string{"PWD": "work"}, true, true},
		{"PWD via the symlink", "env", e.dir, map[string]string{"PWD": e.link}, true, true},
		{"PWD with dots", "env", e.dir, map[string]string{"PWD": e.dir + "/./sub/.."}, true, true},
		{"_ set", "env", e.dir, map[string]string{"_": "/x"}, true, true},
		{"odd names and values", "env", e.dir, map[string]string{"A-B": "1", "NL": "a\nb", "EMPTY": "", "É": "é"}, true, true},
		{"PATH with a trailing slash", "env", e.dir, map[string]string{"PATH": "/usr/bin/:/bin"}, true, true},
		{"PATH relative", "env", e.dir, map[string]string{"PATH": "bin:/usr/bin:/bin"}, false, true},
		{"PATH with an empty element after the program", "env", e.dir, map[string]string{"PATH": "/usr/bin::/bin"}, true, true},
		{"PATH with an empty element first", "env", e.dir, map[string]string{"PATH": ":/usr/bin:/bin"}, false, true},
		{"BASH_ENV set", "env", e.dir, map[string]string{"BASH_ENV": "/dev/null"}, false, true},
		{"IFS set", "env", e.dir, map[string]string{"IFS": ":"}, false, true},
		{"argv", "/bin/sh -c 'printf \"[%s]\" \"$0\" \"$@\"' 'zero' a 'b c' \"d  e\" '' x=1", e.dir, nil, true, false},
		{"argv[0] as typed", "sh -c 'echo $0'", e.dir, nil, true, false},
		{"script by path", "./script.sh a 'b c'", e.dir, nil, true, false},
		{"script through the symlink", "./script.sh", e.link, nil, true, false},
		{"script with no #! line", "./noshebang x", e.dir, nil, false, false},
		{"not executable", "./notexec", e.dir, nil, false, false},
		{"not found", "fabric-no-such-program-xyz arg", e.dir, nil, false, false},
		{"a directory", "./sub", e.dir, nil, false, false},
		{"exit status", "sh -c 'exit 3'", e.dir, nil, true, false},
		{"killed by a signal", "sh -c 'kill -TERM $$'", e.dir, nil, true, false},
		{"stderr and status of a program", "ls /nonexistent/fabric", e.dir, nil, true, false},
		{"output", "uname -s", e.dir, nil, true, false},
	}
	if runtime.GOOS == "linux" {
		tests = append(tests, struct {
			name   string
			cmd    string
			dir    string
			env    map[string]string
			direct bool
			asSet  bool
		}{"argv from the kernel", "cat /proc/self/cmdline", e.dir, nil, true, false})
	}
	shell := DefaultShell()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := Spec{Command: tt.cmd, Shell: shell, Dir: tt.dir, Env: tt.env, Timeout: 10 * time.Second}
			want, _ := run(context.Background(), spec, nil)
			spec.Direct = true
			got, direct := run(context.Background(), spec, nil)
			if direct != tt.direct {
				t.Errorf("ran directly: %v, want %v", direct, tt.direct)
			}
			same := got.ExitCode == want.ExitCode && got.Signal == want.Signal && got.Error == want.Error &&
				got.Stderr == want.Stderr && got.Message == want.Message
			if tt.asSet {
				same = same && sameLines(got.Stdout, want.Stdout)
			} else {
				same = same && got.Stdout == want.Stdout
			}
			if !same {
				t.Fatalf("%q in %s:\ndirect: exit %d %s %s %q\nstderr %q\nstdout:\n%s\nshell:  exit %d %s %s %q\nstderr %q\nstdout:\n%s",
					tt.cmd, tt.dir, got.ExitCode, got.Signal, got.Error, got.Message, got.Stderr, sorted(got.Stdout, tt.asSet),
					want.ExitCode, want.Signal, want.Error, want.Message, want.Stderr, sorted(want.Stdout, tt.asSet))
			}
		})
	}
}

func sorted(s string, asSet bool) string {
	if !asSet {
		return s
	}
	l := strings.Split(s, "\n")
	slices.Sort(l)
	return strings.Join(l, "\n")
}

// TestDirectKeepsProcessGroupAndTimeout: a direct command is killed with
// its whole group at its timeout, as under the shell.
func TestDirectKeepsProcessGroupAndTimeout(t *testing.T) {
	e := newDirectEnv(t)
	res, direct := run(context.Background(), Spec{Command: "sleep 30", Shell: DefaultShell(), Dir: e.dir, Direct: true,
		Timeout: 200 * time.Millisecond}, nil)
	if !direct || res.Error != wire.ErrTimeout {
		t.Fatalf("direct %v, result %+v", direct, res)
	}
}
