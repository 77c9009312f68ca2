package router

import (
	"slices"
	"strings"

	"mvdan.cc/sh/v3/syntax"

	"github.com/fabric-run/fabric/internal/caps"
	"github.com/fabric-run/fabric/internal/shparse"
)

// Class is how heavy a command is, from the programs it invokes.
type Class string

// The classes. Light commands stay on the local node; the others go to the
// least-loaded match unless the local node is under its thresholds.
const (
	Light  Class = "light"  // only quick read-only programs: ls, cat, echo, ...
	Heavy  Class = "heavy"  // builds, tests, compilers, containers, bulk file work
	Normal Class = "normal" // anything else
)

var lightPrograms = set("ls", "pwd", "cd", "echo", "printf", "cat", "head", "tail", "which", "type", "true", "false",
	"date", "whoami", "hostname", "uname", "id", "env", "printenv", "wc", "stat", "file", "basename", "dirname",
	"realpath", "readlink", "test", "[", "sleep", "df", "du", "free", "uptime", "ps", "export", "exit", ":")

var heavyPrograms = set("make", "cmake", "ninja", "bazel", "cargo", "rustc", "npm", "yarn", "pnpm", "npx", "pytest",
	"tox", "jest", "mocha", "vitest", "gcc", "g++", "cc", "c++", "clang", "clang++", "javac", "mvn", "gradle", "tsc",
	"docker", "podman", "kubectl", "helm", "rsync", "scp", "tar", "zip", "unzip", "gzip", "xz", "zstd", "find",
	"swift", "xcodebuild", "go", "ffmpeg", "dotnet", "terraform", "ansible-playbook", "ollama", "bun", "deno")

// osPrograms are programs that exist on one operating system only.
var osPrograms = map[string]string{
	"swift": "darwin", "xcodebuild": "darwin", "xcrun": "darwin", "codesign": "darwin", "launchctl": "darwin",
	"sw_vers": "darwin", "pbcopy": "darwin", "softwareupdate": "darwin",
	"apt": "linux", "apt-get": "linux", "dpkg": "linux", "systemctl": "linux", "journalctl": "linux",
	"yum": "linux", "dnf": "linux", "apk": "linux",
}

// wrappers run the program named by their first non-option argument.
var wrappers = set("sudo", "doas", "env", "nice", "nohup", "time", "command", "exec", "xargs", "timeout",
	"stdbuf", "ionice", "chrt", "taskset", "caffeinate", "unbuffer")

// optionsWithValue are wrapper options that take the next argument.
var optionsWithValue = set("-u", "-g", "-n", "-c", "-p", "-s", "-k", "-C", "-I", "-L", "-P", "-o", "-e", "-i")

// maxDepth bounds recursion into `sh -c '...'` strings.
const maxDepth = 4

// Inference is what a command says about where it can run.
type Inference struct {
	// Programs are the programs the command invokes, in order, deduplicated.
	Programs []string
	// Capabilities are those the programs need (caps table).
	Capabilities []string
	// OS is the operating system a program needs, if any.
	OS string
	// Class is how heavy the command is.
	Class Class
}

// Infer parses command as bash and works out what it needs. Programs are
// found through wrappers (sudo, env, time, xargs ...) and inside `sh -c`
// strings. A command that cannot be parsed is an error.
func Infer(command string) (Inference, error) {
	var progs []invocation
	if err := walk(command, 0, &progs); err != nil {
		return Inference{}, err
	}
	inf := Inference{Class: Light}
	seen := map[string]bool{}
	capSeen := map[string]bool{}
	for _, p := range progs {
		name := p.name
		if seen[name] {
			continue
		}
		seen[name] = true
		inf.Programs = append(inf.Programs, name)
		if c, ok := caps.ForProgram(name); ok && !capSeen[c] {
			capSeen[c] = true
			inf.Capabilities = append(inf.Capabilities, c)
		}
		if os, ok := osPrograms[name]; ok && inf.OS == "" {
			inf.OS = os
		}
		switch {
		case heavyPrograms[name] || (name == "grep" && p.recursive):
			inf.Class = Heavy
		case !lightPrograms[name] && inf.Class == Light:
			inf.Class = Normal
		}
	}
	slices.Sort(inf.Capabilities)
	return inf, nil
}

// invocation is one program invocation found in a command.
type invocation struct {
	name      string
	recursive bool // given -r/-R (grep -r is bulk file work)
}

func walk(command string, depth int, out *[]invocation) error {
	f, err := shparse.Parse(command, syntax.LangBash)
	if err != nil {
		return err
	}
	var inner []string
	syntax.Walk(f, func(n syntax.Node) bool {
		call, ok := n.(*syntax.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		args := literals(call.Args)
		i := 0
		for i < len(args) && wrappers[base(args[i])] {
			i = skipWrapper(args, i)
		}
		if i >= len(args) || args[i] == "" {
			return true
		}
		name := base(args[i])
		rest := args[i+1:]
		*out = append(*out, invocation{name: name, recursive: hasRecursiveFlag(rest)})
		if (name == "sh" || name == "bash" || name == "zsh" || name == "dash") && len(rest) >= 2 && rest[0] == "-c" {
			inner = append(inner, rest[1])
		}
		return true
	})
	if depth < maxDepth {
		for _, s := range inner {
			if err := walk(s, depth+1, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// skipWrapper returns the index of the argument a wrapper at i runs.
func skipWrapper(args []string, i int) int {
	w := base(args[i])
	i++
	for i < len(args) {
		a := args[i]
		switch {
		case a == "--":
			return i + 1
		case strings.HasPrefix(a, "-"):
			i++
			if optionsWithValue[a] && i < len(args) {
				i++
			}
		case w == "env" && strings.Contains(a, "="):
			i++
		case w == "timeout" && a != "" && (a[0] >= '0' && a[0] <= '9'):
			i++ // the duration
		default:
			return i
		}
	}
	return i
}

func hasRecursiveFlag(args []string) bool {
	for _, a := range args {
		if a == "--recursive" || (strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.ContainsAny(a, "rR")) {
			return true
		}
	}
	return false
}

// literals renders each word as its literal value; words with expansions
// become "" (unknown).
func literals(words []*syntax.Word) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = literal(w)
	}
	return out
}

func literal(w *syntax.Word) string {
	var b strings.Builder
	for _, p := range w.Parts {
		switch x := p.(type) {
		case *syntax.Lit:
			b.WriteString(x.Value)
		case *syntax.SglQuoted:
			b.WriteString(x.Value)
		case *syntax.DblQuoted:
			for _, q := range x.Parts {
				l, ok := q.(*syntax.Lit)
				if !ok {
					return ""
				}
				b.WriteString(l.Value)
			}
		default:
			return ""
		}
	}
	return b.String()
}

func base(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

func set(items ...string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, s := range items {
		m[s] = true
	}
	return m
}
