package shell

// Which programs stand for which node capabilities: a node detects its
// capabilities from the programs on its PATH, and the router infers what a
// command needs from the programs it invokes, with one table.

import (
	"maps"
	"os/exec"
	"slices"
	"strings"

	"github.com/fabric-run/fabric/subjects"
)

// capPrograms maps a program name to the capability it provides.
var capPrograms = map[string]string{
	"docker":      "docker",
	"podman":      "podman",
	"kubectl":     "kubectl",
	"helm":        "helm",
	"gcc":         "gcc",
	"g++":         "gcc",
	"cc":          "gcc",
	"clang":       "clang",
	"clang++":     "clang",
	"make":        "make",
	"cmake":       "cmake",
	"go":          "go",
	"cargo":       "cargo",
	"rustc":       "cargo",
	"python3":     "python3",
	"pytest":      "python3",
	"pip3":        "python3",
	"node":        "node",
	"npm":         "node",
	"npx":         "node",
	"yarn":        "yarn",
	"pnpm":        "pnpm",
	"java":        "java",
	"javac":       "java",
	"mvn":         "maven",
	"gradle":      "gradle",
	"swift":       "swift",
	"xcodebuild":  "xcode",
	"nvidia-smi":  "gpu",
	"ollama":      "ollama",
	"terraform":   "terraform",
	"ansible":     "ansible",
	"rsync":       "rsync",
	"ffmpeg":      "ffmpeg",
	"dotnet":      "dotnet",
	"ruby":        "ruby",
	"bundle":      "ruby",
	"php":         "php",
	"deno":        "deno",
	"bun":         "bun",
	"zig":         "zig",
	"qemu-system": "qemu",
}

// detectors are the programs looked up on PATH for each capability; the
// first found wins.
var detectors = func() map[string][]string {
	m := map[string][]string{}
	for prog, c := range capPrograms {
		m[c] = append(m[c], prog)
	}
	for _, progs := range m {
		slices.Sort(progs)
	}
	return m
}()

// Capability returns the capability that program (a name or a path) needs,
// if it is one fabric knows.
func Capability(program string) (string, bool) {
	if i := strings.LastIndexByte(program, '/'); i >= 0 {
		program = program[i+1:]
	}
	c, ok := capPrograms[program]
	return c, ok
}

// Capabilities returns every capability fabric detects, sorted.
func Capabilities() []string { return slices.Sorted(maps.Keys(detectors)) }

// LookPathFunc finds a program; exec.LookPath is the real one.
type LookPathFunc func(file string) (string, error)

// DetectCapabilities returns the capabilities whose programs lookPath finds
// (nil means exec.LookPath), sorted.
func DetectCapabilities(lookPath LookPathFunc) []string {
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	var out []string
	for c, progs := range detectors {
		for _, p := range progs {
			if _, err := lookPath(p); err == nil {
				out = append(out, c)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// MergeCapabilities normalises, deduplicates and sorts capability lists,
// always including subjects.AnyCapability. It fails on a name that is not a
// valid token.
func MergeCapabilities(lists ...[]string) ([]string, error) {
	seen := map[string]bool{subjects.AnyCapability: true}
	out := []string{subjects.AnyCapability}
	for _, l := range lists {
		for _, c := range l {
			n, err := subjects.NormalizeCapability(c)
			if err != nil {
				return nil, err
			}
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// CapabilityPrograms returns every program fabric looks for to detect
// capabilities, sorted.
func CapabilityPrograms() []string { return slices.Sorted(maps.Keys(capPrograms)) }
