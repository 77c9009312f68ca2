package guard

import (
	"errors"
	"strings"

	"github.com/fabric-run/fabric/internal/shell"
)

// Rule names, stable: they appear in refusals and may be matched by callers.
const (
	RuleParse       = "parse"        // the shell would not accept the command
	RuleComplexity  = "complexity"   // past the guard's bounds on size, nesting or expansion
	RuleRmRoot      = "rm-root"      // recursive delete of "/", a system directory or a home
	RuleForkBomb    = "fork-bomb"    // a function spawning copies of itself
	RuleBlockDevice = "block-device" // a write to a disk or memory device
	RuleDiskFormat  = "disk-format"  // mkfs and kin, partition table writes
	RuleChmodRoot   = "chmod-root"   // recursive chmod/chown/chgrp of what rm-root protects
	RulePower       = "power"        // shutdown, reboot, suspend
	RuleAllowList   = "allowlist"    // a program not on the node's allow list
	RuleDenyList    = "denylist"     // a program on the node's deny list
	RuleEnv         = "env"          // a task variable with which the shell or the loader runs code
	RuleUnsetVar    = "unset-var"    // a recursive delete starting with a variable nothing sets
	RuleKillAll     = "kill-all"     // a signal to every process (kill -9 -1, killall5)
	RuleCrontab     = "crontab"      // crontab -r: the user's scheduled jobs deleted
)

// ErrRefused is what every refusal unwraps to: errors.Is(err, ErrRefused)
// tells a refused command from other failures.
var ErrRefused = errors.New("command refused by guard")

// Refusal says why the guard refused a command.
type Refusal struct {
	Rule     string // one of the Rule constants
	Reason   string // what the rule saw, for people
	Fragment string // the part of the command that matched, possibly shortened; may be empty
}

// Error reads: refused by rule "rm-root": recursive forced delete of "/" (in: rm -rf /).
func (r *Refusal) Error() string {
	var b strings.Builder
	b.WriteString(`refused by rule "`)
	b.WriteString(r.Rule)
	b.WriteString(`": `)
	b.WriteString(r.Reason)
	if r.Fragment != "" {
		b.WriteString(" (in: ")
		b.WriteString(r.Fragment)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns ErrRefused.
func (r *Refusal) Unwrap() error { return ErrRefused }

// Guard checks commands against the built-in rules and a node's Policy. A
// Guard is immutable and safe for concurrent use; its zero value enforces the
// default policy, like New(Policy{}).
type Guard struct {
	allow      map[string]bool // nil unless allow-list mode
	deny       map[string]bool
	allowEnv   map[string]bool // task variables allowed despite running code
	allowPower bool
	homeOpen   bool // home directories are not protected
}

// Check parses command as bash would and returns nil when it may run, or a
// *Refusal (which unwraps to ErrRefused) naming the first rule it breaks. An
// empty command, or one of only comments, may run. A command longer than
// 64 KiB is refused (rule "complexity"): the guard is for commands, and
// scripts that size belong in a file the command runs.
func (g *Guard) Check(command string) error {
	k := g.newChecker()
	return k.result(shell.Walk(command, k.options(), k))
}

// CheckArgv checks a command given as an argument vector, run without a shell:
// argv[0] is the program. The same program-level rules apply; words are taken
// literally (no ~ or $VAR expansion happens without a shell), and strings
// handed to a shell (bash -c ...) are parsed and checked. An empty argv or
// program name is refused by rule "parse".
func (g *Guard) CheckArgv(argv []string) error {
	if len(argv) == 0 || argv[0] == "" {
		return &Refusal{Rule: RuleParse, Reason: "empty program name", Fragment: shorten(shell.Join(argv))}
	}
	k := g.newChecker()
	return k.result(shell.WalkArgv(argv, k.options(), k))
}
