package guard

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fabric-run/fabric/internal/shell"
	"github.com/fabric-run/fabric/internal/wire"
)

// Node is what a node knows of itself that judging a task needs: only the
// node knows where a task really runs and with what environment.
type Node struct {
	// Home is the node user's home directory: where "~" points, and where
	// a task with no working directory runs unless Dir says otherwise.
	Home string
	// Dir is where a task with no working directory runs ("" means Home),
	// as the worker's Config.Dir.
	Dir string
	// Env is the node's own environment, "NAME=value" (os.Environ()): the
	// task's shell inherits it, under the task's own variables.
	Env []string
}

// ThisNode returns the Node of the running process: its user's home and its
// environment.
func ThisNode() (Node, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return Node{}, fmt.Errorf("guard: this node's home: %w", err)
	}
	return Node{Home: home, Env: os.Environ()}, nil
}

// codeEnv are environment variables with which the shell, or the dynamic
// loader of every program, runs code the command does not show: a task may
// set them only where the node's policy allows (Policy.AllowEnv).
var codeEnv = []string{
	"BASH_ENV", "ENV", "PROMPT_COMMAND", "SHELLOPTS", "BASHOPTS", "PS4",
	"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "DYLD_INSERT_LIBRARIES", "DYLD_LIBRARY_PATH",
}

// isCodeEnv reports whether a task's variable name runs code: one of codeEnv
// or an exported bash function (BASH_FUNC_name%%), which replaces a command.
func isCodeEnv(name string) bool {
	return slices.Contains(codeEnv, name) || strings.HasPrefix(name, "BASH_FUNC_")
}

// CheckTask judges a task as a front end sees it: its command (or argv),
// with the values of the variables the task's environment defines, in its
// working directory as the task contract places it (absolute, under "~",
// or, when empty, the node user's home). What only the node knows is left
// to the node, which judges the task again (CheckOn): a relative working
// directory, the node's own environment (so whether a variable is unset),
// and which variables the node's policy lets a task set. Accepted here is
// not accepted there.
func (g *Guard) CheckTask(t *wire.Task) error {
	cwd := "~"
	if t.Cwd != "" {
		cwd = t.Cwd
	}
	return g.check(t, taskView{cwd: frontCwd(cwd), env: mapLookup(t.Env)})
}

// CheckOn judges a task as node n will run it: in the directory it will run
// in (wire.WorkDir), with the environment it will run with (the node's,
// under the task's), and with the node's rules for that environment: the
// variables that run code (BASH_ENV, LD_PRELOAD ...) are refused unless the
// policy allows them, and a recursive delete whose target starts with a
// variable that environment does not define is refused unless written to
// fail when empty (${OUT:?}).
func (g *Guard) CheckOn(n *Node, t *wire.Task) error {
	for _, name := range slices.Sorted(maps.Keys(t.Env)) {
		if isCodeEnv(name) && !g.allowEnv[name] {
			return &Refusal{Rule: RuleEnv, Reason: fmt.Sprintf(
				"the task's environment sets %s, with which the shell or the loader runs code the command does not show "+
					"(a node allows it only by its policy: allow_env, FABRIC_GUARD_ALLOW_ENV)", name)}
		}
	}
	dflt := n.Dir
	if dflt == "" {
		dflt = n.Home
	}
	nodeEnv := envLookup(n.Env)
	taskEnv := mapLookup(t.Env)
	lookup := func(name string) (string, bool) {
		if v, ok := taskEnv(name); ok {
			return v, true
		}
		return nodeEnv(name)
	}
	return g.check(t, taskView{cwd: nodeCwd(wire.WorkDir(t.Cwd, dflt, n.Home), n.Home), env: lookup, envKnown: true})
}

// NodeCheck returns CheckOn for node n, in the shape worker.Config.Check
// takes.
func (g *Guard) NodeCheck(n Node) func(*wire.Task) error {
	return func(t *wire.Task) error { return g.CheckOn(&n, t) }
}

// taskView is what a check knows of where and how a task runs.
type taskView struct {
	cwd      *shell.Value
	env      func(string) (string, bool)
	envKnown bool
}

// check judges t's command, or its argv, as seen in v.
func (g *Guard) check(t *wire.Task, v taskView) error {
	k := g.newChecker()
	k.envKnown = v.envKnown
	opts := k.options()
	opts.Cwd, opts.Env, opts.EnvKnown = v.cwd, v.env, v.envKnown
	if t.Command != "" {
		return k.result(shell.Walk(t.Command, opts, k))
	}
	if len(t.Argv) == 0 || t.Argv[0] == "" {
		return &Refusal{Rule: RuleParse, Reason: "empty program name", Fragment: shorten(shell.Join(t.Argv))}
	}
	return k.result(shell.WalkArgv(t.Argv, opts, k))
}

// frontCwd is the working directory a front end can see: absolute or under
// "~"; nil (unknown) when relative to a directory only the node knows.
func frontCwd(cwd string) *shell.Value {
	switch {
	case cwd == "~" || strings.HasPrefix(cwd, "~/"):
		return &shell.Value{S: filepath.ToSlash(filepath.Clean("/" + cwd[1:])), Home: true}
	case strings.HasPrefix(cwd, "/"):
		return &shell.Value{S: filepath.ToSlash(filepath.Clean(cwd))}
	}
	return nil
}

// nodeCwd is dir, an absolute path, as the walk knows it: under the home
// directory when it is there, so that the home's protection applies
// wherever the home is.
func nodeCwd(dir, home string) *shell.Value {
	if !filepath.IsAbs(dir) {
		return nil
	}
	dir = filepath.Clean(dir)
	if home != "" {
		home = filepath.Clean(home)
		if rel, ok := strings.CutPrefix(dir, home); ok && (rel == "" || rel[0] == filepath.Separator) {
			return &shell.Value{S: filepath.ToSlash(rel), Home: true}
		}
	}
	return &shell.Value{S: filepath.ToSlash(dir)}
}

// mapLookup looks names up in m.
func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// envLookup looks names up in an environment of "NAME=value" entries; the
// last entry of a name wins, as exec does.
func envLookup(env []string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if k, v, ok := strings.Cut(env[i], "="); ok && k == name {
				return v, true
			}
		}
		return "", false
	}
}
