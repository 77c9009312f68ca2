package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"mvdan.cc/sh/v3/syntax"

	"github.com/fabric-run/fabric/internal/shell"
)

// A node runs commands under bash, and bash starts slower than the program
// it is asked to run (a few milliseconds). When the command is one simple
// command (one program, literal words, no shell syntax, not a builtin),
// bash does nothing but look the program up in PATH and exec it in its own
// place (its one-shot optimisation), after adjusting a few environment
// variables. The direct path does exactly that itself: same program, same
// argv (argv[0] as typed), same working directory, same environment (the
// same variables with the same values; bash's order of them is its hash
// table's, not reproduced), same process group, exit status and output.
// Anything it is not sure of goes to the shell: it is an optimisation,
// never a second semantics.
//
// What bash does before the exec (bash 5, execute_cmd.c and variables.c),
// and the direct path with it:
//   - PWD: kept if it is absolute and names the working directory,
//     otherwise set to the physical working directory (getcwd);
//   - OLDPWD: dropped unless it names a directory;
//   - SHLVL: incremented at start and decremented for the exec (absent or
//     not a number: 0);
//   - _: the full path of the program found, or the word if it has a '/'.
//
// Because bash versions differ in these (SHLVL changed in 5.2), a node
// checks its shell once (DirectCheck) before enabling the direct path.

// bashWords are bash's builtins and reserved words: a command named so
// is not a program lookup.
var bashWords = set(".", ":", "[", "alias", "bg", "bind", "break", "builtin", "caller", "cd", "command", "compgen",
	"complete", "compopt", "continue", "declare", "dirs", "disown", "echo", "enable", "eval", "exec", "exit", "export",
	"false", "fc", "fg", "getopts", "hash", "help", "history", "jobs", "kill", "let", "local", "logout", "mapfile",
	"popd", "printf", "pushd", "pwd", "read", "readarray", "readonly", "return", "set", "shift", "shopt", "source",
	"suspend", "test", "times", "trap", "true", "type", "typeset", "ulimit", "umask", "unalias", "unset", "wait",
	"if", "then", "else", "elif", "fi", "case", "esac", "for", "select", "while", "until", "do", "done", "in",
	"function", "time", "{", "}", "!", "[[", "]]", "coproc")

// bashVars are environment variables bash reads or rewrites at start (or
// that change what it runs: options, startup files, locale warnings): with
// any of them set, the command goes to the shell. Names starting with BASH
// (BASH_ENV, BASH_FUNC_*, BASHOPTS, ...) are refused as well.
var bashVars = set("ENV", "SHELLOPTS", "POSIXLY_CORRECT", "EXECIGNORE", "IFS", "PS1", "PS2", "PS4", "LINENO",
	"RANDOM", "SRANDOM", "SECONDS", "EPOCHSECONDS", "EPOCHREALTIME", "PPID", "OPTIND", "OPTERR", "HISTCMD",
	"COMP_WORDBREAKS", "GROUPS", "FUNCNAME", "DIRSTACK", "PIPESTATUS", "LC_ALL")

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// simpleArgv returns the words of command if it is one simple command whose
// words are all literal: no expansion, quoting that only quotes, no
// redirection, no assignment, not a builtin or reserved word.
func simpleArgv(command string) ([]string, bool) {
	f, err := shell.Parse(command, syntax.LangBash)
	if err != nil || len(f.Stmts) != 1 {
		return nil, false
	}
	st := f.Stmts[0]
	if st.Negated || st.Background || st.Coprocess || len(st.Redirs) > 0 {
		return nil, false
	}
	call, ok := st.Cmd.(*syntax.CallExpr)
	if !ok || len(call.Assigns) > 0 || len(call.Args) == 0 {
		return nil, false
	}
	argv := make([]string, len(call.Args))
	for i, w := range call.Args {
		if argv[i], ok = literal(w); !ok {
			return nil, false
		}
	}
	if argv[0] == "" || bashWords[argv[0]] {
		return nil, false
	}
	return argv, true
}

// literal returns the value of a word that the shell would pass as it is.
func literal(w *syntax.Word) (string, bool) {
	var b strings.Builder
	for _, p := range w.Parts {
		switch x := p.(type) {
		case *syntax.Lit:
			// Unquoted: no escapes, globs, braces, tildes or expansions.
			if strings.ContainsAny(x.Value, "\\*?[]{}~$`") {
				return "", false
			}
			b.WriteString(x.Value)
		case *syntax.SglQuoted:
			if x.Dollar {
				return "", false
			}
			b.WriteString(x.Value)
		case *syntax.DblQuoted:
			if x.Dollar {
				return "", false
			}
			for _, q := range x.Parts {
				l, ok := q.(*syntax.Lit)
				if !ok || strings.ContainsAny(l.Value, "\\$`") {
					return "", false
				}
				b.WriteString(l.Value)
			}
		default:
			return "", false
		}
	}
	return b.String(), true
}

// directCommand returns a command that runs argv without a shell exactly as
// bash would, given the command bash itself would have been (shellCmd,
// configured: Dir and Env). ok is false when that cannot be sure.
func directCommand(shellCmd *exec.Cmd, argv []string) (*exec.Cmd, bool) {
	env := shellCmd.Environ()
	dir := shellCmd.Dir
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, false
		}
		dir = wd
	}
	vars := make(map[string]int, len(env)) // name → index in env
	for i, kv := range env {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || bashVars[name] || strings.HasPrefix(name, "BASH") {
			return nil, false
		}
		vars[name] = i
	}
	get := func(name string) (string, bool) {
		if i, ok := vars[name]; ok {
			_, v, _ := strings.Cut(env[i], "=")
			return v, true
		}
		return "", false
	}
	put := func(name, value string) {
		if i, ok := vars[name]; ok {
			env[i] = name + "=" + value
			return
		}
		vars[name] = len(env)
		env = append(env, name+"="+value)
	}

	// The program: a word with a slash is run as it is; otherwise the
	// first executable regular file in PATH, whose elements up to it must
	// be absolute (bash reads an empty one as ".", and expands "~").
	path, underscore := argv[0], argv[0]
	if strings.Contains(argv[0], "/") {
		if !executable(inDir(dir, argv[0])) {
			return nil, false
		}
	} else {
		search, ok := get("PATH")
		if !ok {
			return nil, false // bash would search its own default PATH
		}
		found := ""
		for _, elem := range strings.Split(search, ":") {
			if !strings.HasPrefix(elem, "/") {
				return nil, false
			}
			candidate := elem + "/" + argv[0]
			if strings.HasSuffix(elem, "/") {
				candidate = elem + argv[0]
			}
			if executable(candidate) {
				found = candidate
				break
			}
		}
		if found == "" {
			return nil, false // let bash say "command not found"
		}
		path, underscore = found, found
	}

	// PWD, OLDPWD, SHLVL and _ as bash leaves them for the program.
	cwd, err := filepath.EvalSymlinks(dir)
	if err != nil || !filepath.IsAbs(cwd) {
		return nil, false
	}
	if pwd, ok := get("PWD"); !ok || !strings.HasPrefix(pwd, "/") || !sameFile(pwd, cwd) {
		put("PWD", cwd)
	}
	if old, ok := get("OLDPWD"); ok {
		if fi, err := os.Stat(inDir(dir, old)); old == "" || err != nil || !fi.IsDir() {
			env[vars["OLDPWD"]] = "" // dropped below
		}
	}
	level := 0
	if v, ok := get("SHLVL"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 997 || strings.ContainsAny(v, "+- \t") {
			return nil, false
		}
		level = n
	}
	put("SHLVL", strconv.Itoa(level))
	put("_", underscore)
	kept := env[:0]
	for _, kv := range env {
		if kv != "" {
			kept = append(kept, kv)
		}
	}

	cmd := &exec.Cmd{Path: path, Args: argv, Env: kept, Dir: shellCmd.Dir}
	setProcessGroup(cmd)
	return cmd, true
}

// inDir resolves p against dir, as a process working in dir would.
func inDir(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// ErrNoDirect is returned by DirectCheck when the direct path must not be
// used with a shell.
var ErrNoDirect = errors.New("direct path not exact for this shell")

// DirectCheck checks that, with shell, the direct path gives exactly what
// the shell gives: it runs `env` both ways, with this process's environment
// and with SHLVL and OLDPWD set, and compares the environments the program
// saw, its output and exit status. A node runs it once at start and sets
// Spec.Direct only if it passes: bash versions differ in what they export.
func DirectCheck(shell string) error {
	if !isBash(shell) {
		return fmt.Errorf("%w: %s is not bash", ErrNoDirect, shell)
	}
	dir := os.TempDir()
	for _, env := range []map[string]string{nil, {"SHLVL": "7", "OLDPWD": "/nonexistent/fabric-direct-check"}} {
		spec := Spec{Command: "env", Shell: shell, Dir: dir, Env: env, Timeout: 10 * time.Second}
		viaShell, _ := run(context.Background(), spec, nil)
		spec.Direct = true
		direct, ran := run(context.Background(), spec, nil)
		switch {
		case !ran:
			return fmt.Errorf("%w: env was not run directly", ErrNoDirect)
		case !viaShell.Ran() || viaShell.ExitCode != 0 || viaShell.Stderr != "":
			return fmt.Errorf("%w: %s -c env: exit %d %s %s", ErrNoDirect, shell, viaShell.ExitCode, viaShell.Message, viaShell.Stderr)
		case direct.ExitCode != 0 || direct.Stderr != "" || !sameLines(direct.Stdout, viaShell.Stdout):
			return fmt.Errorf("%w: env directly saw\n%s\nunder %s:\n%s", ErrNoDirect, direct.Stdout, shell, viaShell.Stdout)
		}
	}
	return nil
}

// sameLines reports whether a and b hold the same lines in any order.
func sameLines(a, b string) bool {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}
