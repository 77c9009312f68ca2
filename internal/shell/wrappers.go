package shell

import (
	"path"
	"slices"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// wrapper describes a program that runs another program given by its own
// arguments: sudo rm ..., nice -n 5 make, timeout 10 curl ...
type wrapper struct {
	value    string   // short options that take a value (sudo -u root)
	optional string   // short options whose value, if any, is attached (xargs -i{})
	long     []string // long options that take a value unless given as --name=value
	stop     string   // short options after which no program runs (command -v, sudo -l)
	split    byte     // short option whose value is a command line to split (env -S)
	assigns  bool     // NAME=value words before the program set its environment
	operands int      // operands before the program (timeout's duration)
}

// wrappers are the programs the walk looks through, with the options each
// really takes. The wrapper itself is also an invoked program.
var wrappers = map[string]wrapper{
	"sudo": {value: "CDgpRrTtUu", stop: "elvKV", assigns: true,
		long: []string{"chdir", "chroot", "close-from", "command-timeout", "group", "host", "other-user", "prompt", "role", "type", "user"}},
	"doas":       {value: "u", stop: "C"},
	"pkexec":     {long: []string{"user"}},
	"env":        {value: "uCPS", split: 'S', assigns: true, long: []string{"unset", "chdir", "split-string"}},
	"nice":       {value: "n", long: []string{"adjustment"}},
	"nohup":      {},
	"time":       {value: "fo", long: []string{"format", "output"}},
	"command":    {stop: "vV"},
	"builtin":    {},
	"exec":       {value: "a"},
	"xargs":      {value: "aEdILnPs", optional: "eil", long: []string{"arg-file", "delimiter", "max-args", "max-chars", "max-lines", "max-procs", "process-slot-var"}},
	"timeout":    {value: "ks", long: []string{"kill-after", "signal"}, operands: 1},
	"stdbuf":     {value: "ioe", long: []string{"input", "output", "error"}},
	"ionice":     {value: "cnpPu", long: []string{"class", "classdata", "pid", "pgid", "uid"}},
	"setsid":     {},
	"chroot":     {long: []string{"groups", "userspec"}, operands: 1},
	"taskset":    {stop: "p", operands: 1},
	"chrt":       {stop: "mp", operands: 1},
	"unbuffer":   {},
	"busybox":    {},
	"toybox":     {},
	"caffeinate": {value: "tw"},
	"fakeroot":   {value: "is", long: []string{"faked", "lib"}},
	"strace":     {value: "abeEIoOpPsSuUX"},
}

// shells are the programs that run shell code, with the language the walk
// parses it as.
var shells = map[string]syntax.LangVariant{
	"sh": langBash, "bash": langBash, "rbash": langBash, "dash": langBash, "ash": langBash,
	"ksh": langBash, "ksh93": langBash, "yash": langBash, "posh": langBash,
	"zsh": langZsh, "mksh": langMksh,
}

// isAssignment reports whether s is NAME=value.
func isAssignment(s string) bool {
	name, _, ok := strings.Cut(s, "=")
	return ok && isName(name)
}

// unwrap walks the program a wrapper runs.
func (w *walker) unwrap(c *call, name string, spec wrapper, args []*arg) {
	i := 1
	for i < len(args) && !w.stopped() {
		s, ok := w.lit(args[i])
		if !ok {
			// An option, or the program itself: take it as both.
			w.invoke(c, args[i:])
			i++
			continue
		}
		if spec.assigns && isAssignment(s) {
			k, v, _ := strings.Cut(s, "=")
			w.assign(k, one(v))
			i++
			continue
		}
		if s == "--" {
			i++
			break
		}
		if s != "-" && (len(s) < 2 || s[0] != '-') {
			break
		}
		i++
		if strings.HasPrefix(s, "--") {
			opt, val, eq := strings.Cut(s[2:], "=")
			switch {
			case spec.split != 0 && opt == "split-string":
				w.splitString(c, val, eq, args[i:])
				return
			case !eq && slices.Contains(spec.long, opt):
				i++
			}
			continue
		}
		for j := 1; j < len(s); j++ {
			ch := s[j]
			switch {
			case strings.IndexByte(spec.stop, ch) >= 0:
				return
			case spec.split != 0 && ch == spec.split:
				w.splitString(c, s[j+1:], j+1 < len(s), args[i:])
				return
			case strings.IndexByte(spec.optional, ch) >= 0:
				j = len(s)
			case strings.IndexByte(spec.value, ch) >= 0:
				if j == len(s)-1 {
					i++
				}
				j = len(s)
			}
		}
	}
	i += spec.operands
	if i < len(args) {
		w.invoke(c, args[i:])
	}
}

// splitString walks env -S: its value (attached when inline, else the next
// argument) is a command line, followed by the remaining arguments.
func (w *walker) splitString(c *call, val string, inline bool, rest []*arg) {
	code := one(val)
	if !inline {
		if len(rest) == 0 {
			return
		}
		code, rest = w.code(rest[0]), rest[1:]
	}
	if len(rest) > 0 {
		code = w.concat(w.concat(code, one(" ")), w.joinCode(rest, " "))
	}
	w.runCode(c, code, langBash, false)
}

// skipOptions returns the index of the first operand in args at or after i.
// Options end at "--" (skipped), at a word not starting with '-', and at a
// word the walk cannot see. value lists the short options that take a
// value, long the long ones.
func (w *walker) skipOptions(args []*arg, i int, Value string, long ...string) int {
	for i < len(args) {
		s, ok := w.lit(args[i])
		if !ok || len(s) < 2 || s[0] != '-' {
			return i
		}
		i++
		if s == "--" {
			return i
		}
		if strings.HasPrefix(s, "--") {
			opt, _, eq := strings.Cut(s[2:], "=")
			if !eq && slices.Contains(long, opt) {
				i++
			}
			continue
		}
		for j := 1; j < len(s); j++ {
			if strings.IndexByte(Value, s[j]) >= 0 {
				if j == len(s)-1 {
					i++
				}
				break
			}
		}
	}
	return i
}

// shell walks a shell: the code of -c, or the code on its standard input.
// A script file is the node's own business.
func (w *walker) shell(c *call, lang syntax.LangVariant, args []*arg) {
	cFlag, sFlag := false, false
	i := 1
options:
	for ; i < len(args); i++ {
		s, ok := w.lit(args[i])
		switch {
		case !ok:
			break options
		case s == "--" || s == "-":
			i++
			break options
		case strings.HasPrefix(s, "--"):
			if s == "--rcfile" || s == "--init-file" {
				i++
			}
		case len(s) > 1 && (s[0] == '-' || s[0] == '+'):
			skip := false
			for _, ch := range s[1:] {
				switch ch {
				case 'c':
					cFlag = cFlag || s[0] == '-'
				case 's':
					sFlag = true
				case 'o', 'O':
					skip = true
				}
			}
			if skip {
				i++
			}
		default:
			break options
		}
	}
	switch {
	case cFlag:
		if i < len(args) {
			w.runCode(c, w.code(args[i]), lang, false)
		}
	case i < len(args) && !sFlag && !w.readsStdin(args[i]):
		// bash script.sh: a file the walk does not read
	case c.stdin != nil:
		w.runCode(c, *c.stdin, lang, false)
	}
}

// stdinFiles are the paths through which a program reads its own standard
// input.
var stdinFiles = set("/dev/stdin", "/dev/fd/0", "/proc/self/fd/0")

// readsStdin reports whether a shell's script operand is its standard input
// (bash /dev/stdin <<< 'code').
func (w *walker) readsStdin(script *arg) bool {
	s, ok := w.lit(script)
	return ok && stdinFiles[path.Clean(s)]
}

// trap walks the code trap installs: trap 'code' SIGNAL...
func (w *walker) trap(c *call, args []*arg) {
	i := w.skipOptions(args, 1, "")
	if i+1 >= len(args) {
		return // trap -p, trap -l, trap SIG: no code
	}
	if s, ok := w.lit(args[i]); ok && (s == "-" || s == "" || strings.Trim(s, "0123456789") == "") {
		return // resetting signals
	}
	w.runCode(c, w.code(args[i]), langBash, true)
}

// alias walks the code of alias name='code' definitions, in case the shell
// expands aliases.
func (w *walker) alias(c *call, args []*arg) {
	for _, a := range args[1:] {
		for _, v := range w.code(a).Alts {
			if _, body, ok := strings.Cut(v.S, "="); ok && !v.Home {
				w.nested(body, langBash, c, true)
			}
		}
	}
}

// su walks su -c 'code' and runuser -u user -- program ...
func (w *walker) su(c *call, name string, args []*arg) {
	user := false
	for i := 1; i < len(args) && !w.stopped(); i++ {
		s, ok := w.lit(args[i])
		if !ok {
			continue
		}
		switch {
		case s == "--":
			if name == "runuser" && user {
				w.invoke(c, args[i+1:])
			}
			return
		case s == "--command" || s == "--session-command":
			if i+1 < len(args) {
				w.runCode(c, w.code(args[i+1]), langBash, false)
			}
			return
		case strings.HasPrefix(s, "--command=") || strings.HasPrefix(s, "--session-command="):
			_, code, _ := strings.Cut(s, "=")
			w.nested(code, langBash, c, false)
			return
		case strings.HasPrefix(s, "--"):
			user = user || strings.HasPrefix(s, "--user")
		case len(s) > 1 && s[0] == '-':
			for j := 1; j < len(s); j++ {
				switch s[j] {
				case 'c':
					if j+1 < len(s) {
						w.nested(s[j+1:], langBash, c, false)
					} else if i+1 < len(args) {
						w.runCode(c, w.code(args[i+1]), langBash, false)
					}
					return
				case 'u', 'g', 'G', 's', 'w':
					user = user || s[j] == 'u'
					if j == len(s)-1 {
						i++
					}
					j = len(s)
				}
			}
		default:
			if name == "runuser" && user {
				w.invoke(c, args[i:])
				return
			}
		}
	}
}

// flock walks flock [options] file (-c 'code' | program ...).
func (w *walker) flock(c *call, args []*arg) {
	i := w.skipOptions(args, 1, "wE", "timeout", "conflict-exit-code")
	for j := 1; j < i; j++ {
		if s, _ := w.lit(args[j]); s == "-c" || s == "--command" {
			if j+1 < len(args) {
				w.runCode(c, w.code(args[j+1]), langBash, false)
			}
			return
		}
	}
	i++ // the lock file
	if i < len(args) {
		if s, _ := w.lit(args[i]); s == "-c" || s == "--command" {
			if i+1 < len(args) {
				w.runCode(c, w.code(args[i+1]), langBash, false)
			}
			return
		}
		w.invoke(c, args[i:])
	}
}

// watch walks the command watch runs, joined and given to sh -c.
func (w *walker) watch(c *call, args []*arg) {
	i := w.skipOptions(args, 1, "nq", "interval", "equexit")
	if i < len(args) {
		w.runCode(c, w.joinCode(args[i:], " "), langBash, false)
	}
}

// ssh walks the command ssh runs on the remote host: its words joined and
// given to the remote shell, or the code on its standard input.
func (w *walker) ssh(c *call, args []*arg) {
	i := w.skipOptions(args, 1, "BbcDEeFIiJLlmOoPpQRSWw") + 1 // after the destination
	r := w.remoteWalker()
	switch {
	case i < len(args):
		r.runCode(c, w.joinCode(args[i:], " "), langBash, false)
	case c.stdin != nil:
		r.runCode(c, *c.stdin, langBash, false)
	}
}

// container walks docker run/exec, podman, kubectl exec and the like: any
// argument naming a program the visitor has rules for (Options.Rules) is taken, with the
// arguments after it, as a command run in the container. Containers share the
// host's kernel, devices and, through mounts, its files, and deleting a
// container's "/" has no use: refusing it is cheap.
func (w *walker) container(c *call, args []*arg) {
	r := w.remoteWalker()
	for i := 1; i < len(args) && !w.stopped(); i++ {
		s, ok := w.lit(args[i])
		if !ok {
			continue
		}
		name := path.Base(s)
		_, wrap := wrappers[name]
		_, sh := shells[name]
		if wrap || sh || name == "eval" || name == "find" || (w.st.opts.Rules != nil && w.st.opts.Rules(name)) {
			r.invoke(c, args[i:])
		}
	}
}

// remoteWalker returns a walker for code that runs in a container or on
// another host: the same walk, with none of this shell's variables or
// directory.
func (w *walker) remoteWalker() *walker {
	return &walker{st: w.st, src: w.src, depth: w.depth, remote: true, vars: map[string]Values{}, cwd: unknownValue}
}

// cd follows the working directory, to resolve relative paths after it.
func (w *walker) cd(args []*arg) {
	i := w.skipOptions(args, 1, "")
	if i >= len(args) {
		w.cwd = w.home()
		return
	}
	v := w.val(args[i])
	if s, ok := v.Literal(); ok && s == "-" {
		w.cwd = unknownValue
		return
	}
	cwd := Values{Unknown: v.Unknown, Overflow: v.Overflow}
	for _, alt := range v.Alts {
		r := w.resolve(alt)
		if len(r) == 0 {
			cwd.Unknown = true
		}
		cwd.Alts = append(cwd.Alts, r...)
	}
	if len(cwd.Alts) > maxVarAlts {
		cwd = unknownValue
	}
	w.cwd = cwd
}

// resolve returns the absolute (or home-relative) paths p may name, given the
// working directory; none when p is relative and the directory unknown.
func (w *walker) resolve(p Value) []Value {
	if p.Home || strings.HasPrefix(p.S, "/") {
		return []Value{p}
	}
	out := make([]Value, 0, len(w.cwd.Alts))
	for _, d := range w.cwd.Alts {
		out = append(out, Value{S: strings.TrimSuffix(d.S, "/") + "/" + p.S, Home: d.Home})
	}
	return out
}
