package guard

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/fabric-run/fabric/internal/shell"
)

// ErrInvalidPolicy is returned, wrapped, by New for a policy it cannot use.
var ErrInvalidPolicy = errors.New("invalid guard policy")

// Policy is a node's command policy. The zero Policy is the default: every
// built-in rule, home directories protected, power commands refused, any
// program allowed.
//
// Program names are matched against the base name of what a command invokes,
// so /usr/bin/make and ./make both match "make": the lists say which tools may
// run, not which files. The lists never lift a built-in rule: "rm" on the
// allow list still cannot delete "/".
type Policy struct {
	// AllowList, when not empty, puts the node in allow-list mode: every
	// program a command invokes (including through sudo, xargs, bash -c,
	// $(...) and pipelines) must be on it. Shell builtins that only change
	// the shell's own state or print (cd, echo, export, test, ...) and
	// functions the command defines itself need not be listed.
	AllowList []string `yaml:"allow"`

	// DenyList names programs that are refused wherever they appear,
	// builtins included.
	DenyList []string `yaml:"deny"`

	// AllowPower lets commands shut down, reboot or suspend the machine.
	AllowPower bool `yaml:"allow_power"`

	// AllowEnv names the variables a task's environment may set although
	// the shell or the dynamic loader runs code with them (BASH_ENV, ENV,
	// PROMPT_COMMAND, SHELLOPTS, BASHOPTS, PS4, LD_PRELOAD,
	// LD_LIBRARY_PATH, LD_AUDIT, DYLD_INSERT_LIBRARIES, DYLD_LIBRARY_PATH,
	// BASH_FUNC_*): refused by default.
	AllowEnv []string `yaml:"allow_env"`

	// ProtectHome, nil meaning true, makes home directories (~, $HOME,
	// /home/<user>, /Users/<user>) protected like "/" is.
	ProtectHome *bool `yaml:"protect_home"`
}

// New validates p and returns a Guard enforcing it. Program names must be
// non-empty base names: no '/', no whitespace or control characters, not "."
// or "..", and a name may not be both allowed and denied.
func New(p Policy) (*Guard, error) {
	g := &Guard{
		allowPower: p.AllowPower,
		homeOpen:   p.ProtectHome != nil && !*p.ProtectHome,
	}
	var err error
	if g.allow, err = nameSet("allow", p.AllowList); err != nil {
		return nil, err
	}
	if g.deny, err = nameSet("deny", p.DenyList); err != nil {
		return nil, err
	}
	for _, name := range p.AllowEnv {
		if name == "" || strings.ContainsAny(name, "= \t\n\x00") {
			return nil, fmt.Errorf("guard policy: allow_env entry %q is not a variable name: %w", name, ErrInvalidPolicy)
		}
		if g.allowEnv == nil {
			g.allowEnv = map[string]bool{}
		}
		g.allowEnv[name] = true
	}
	for name := range g.deny {
		if g.allow[name] {
			return nil, fmt.Errorf("guard policy: %q is both allowed and denied: %w", name, ErrInvalidPolicy)
		}
	}
	return g, nil
}

// nameSet validates the program names of one list and returns them as a set,
// nil for an empty list.
func nameSet(list string, names []string) (map[string]bool, error) {
	if len(names) == 0 {
		return nil, nil
	}
	set := make(map[string]bool, len(names))
	for _, name := range names {
		if why := badName(name); why != "" {
			return nil, fmt.Errorf("guard policy: %s entry %q %s: %w", list, name, why, ErrInvalidPolicy)
		}
		set[name] = true
	}
	return set, nil
}

// badName says what is wrong with a program name, or "" if nothing is.
func badName(name string) string {
	switch {
	case name == "":
		return "is empty"
	case name == "." || name == "..":
		return "is not a program name"
	case strings.Contains(name, "/"):
		return "contains '/' (name programs, not paths)"
	case strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return "contains whitespace or a control character"
	}
	return ""
}

// freeBuiltins are shell builtins allowed in allow-list mode without being
// listed: they change only the shell's own state, print, or run something the
// guard checks on its own (command, exec, eval, trap).
var freeBuiltins = map[string]bool{
	":": true, "[": true, "alias": true, "bg": true, "break": true, "builtin": true,
	"cd": true, "command": true, "continue": true, "declare": true, "dirs": true,
	"echo": true, "eval": true, "exec": true, "exit": true, "export": true,
	"false": true, "fg": true, "getopts": true, "hash": true, "jobs": true,
	"let": true, "local": true, "popd": true, "printf": true, "pushd": true,
	"pwd": true, "read": true, "readonly": true, "return": true, "set": true,
	"shift": true, "shopt": true, "test": true, "trap": true, "true": true,
	"type": true, "typeset": true, "ulimit": true, "umask": true, "unalias": true,
	"unset": true, "wait": true,
}

// checkPolicy applies the node's allow and deny lists to one invoked program.
func (w *checker) checkPolicy(c *shell.Invocation, name string) {
	if c.Remote {
		return // it runs in a container or on another machine, not on this node
	}
	g := w.g
	if g.deny[name] {
		w.refuse(c, RuleDenyList, fmt.Sprintf("program %q is on the node's deny list", name))
		return
	}
	if g.allow != nil && !g.allow[name] && !freeBuiltins[name] && !c.Func {
		w.refuse(c, RuleAllowList, fmt.Sprintf("program %q is not on the node's allow list", name))
	}
}
