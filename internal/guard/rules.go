package guard

import (
	"fmt"
	"strings"

	"github.com/fabric-run/fabric/internal/shell"
)

// ruleFunc judges one program, run as name with args (args[0] is the
// program's own word), by command c.
type ruleFunc func(w *checker, c *shell.Invocation, name string, args []*shell.Arg)

// ruleFor returns the rule for a program name, nil if it has none.
func ruleFor(name string) ruleFunc {
	switch name {
	case "find":
		return (*checker).ruleFind
	case "mv":
		return (*checker).ruleMv
	case "rsync":
		return (*checker).ruleRsync
	case "kill", "killall5":
		return (*checker).ruleKill
	case "crontab":
		return (*checker).ruleCrontab
	case "rm":
		return (*checker).ruleRm
	case "chmod", "chown", "chgrp":
		return (*checker).ruleChmod
	case "dd":
		return (*checker).ruleDd
	case "tee":
		return (*checker).ruleTee
	case "cp":
		return (*checker).ruleCp
	case "shred":
		return (*checker).ruleShred
	case "mke2fs", "mkswap", "mkdosfs", "mkntfs", "mkexfatfs", "mkreiserfs", "newfs", "wipefs", "blkdiscard":
		return (*checker).ruleFormat
	case "fdisk", "sfdisk", "cfdisk", "gdisk", "sgdisk", "parted":
		return (*checker).rulePartition
	case "diskutil", "nvme", "cryptsetup", "badblocks":
		return (*checker).ruleDiskTool
	case "shutdown", "reboot", "halt", "poweroff", "kexec", "init", "telinit", "systemctl", "loginctl", "launchctl":
		return (*checker).rulePower
	}
	if strings.HasPrefix(name, "mkfs") || strings.HasPrefix(name, "newfs_") {
		return (*checker).ruleFormat
	}
	return nil
}

// rules applies the rule of a program, if it has one.
func (w *checker) rules(c *shell.Invocation, name string, args []*shell.Arg) {
	if f := ruleFor(name); f != nil {
		f(w, c, name, args)
	}
}

// isPrefix reports whether opt is a non-empty prefix of the long option
// full: getopt accepts unambiguous abbreviations (--rec for --recursive).
func isPrefix(opt, full string) bool { return opt != "" && strings.HasPrefix(full, opt) }

// rmOpts are the options and operands of an rm command line.
type rmOpts struct {
	recursive, force, noPreserve bool
	maybe                        bool // a word the guard cannot see may be more options
	targets                      []*shell.Arg
}

// scanRm reads rm's options (anywhere before "--", as GNU rm does) and operands.
func (w *checker) scanRm(args []*shell.Arg) rmOpts {
	var o rmOpts
	opts := true
	for _, a := range args[1:] {
		v := w.val(a)
		if s, ok := v.Literal(); ok && opts && s == "--" {
			opts = false
			continue
		}
		isOpt := false
		for _, alt := range v.Alts {
			if !opts || alt.Home || len(alt.S) < 2 || alt.S[0] != '-' {
				continue
			}
			isOpt = true
			if long, ok := strings.CutPrefix(alt.S, "--"); ok {
				long, _, _ = strings.Cut(long, "=")
				o.recursive = o.recursive || isPrefix(long, "recursive")
				o.force = o.force || isPrefix(long, "force")
				o.noPreserve = o.noPreserve || isPrefix(long, "no-preserve-root")
				continue
			}
			o.recursive = o.recursive || strings.ContainsAny(alt.S[1:], "rR")
			o.force = o.force || strings.ContainsRune(alt.S[1:], 'f')
		}
		if opts && (v.Unknown || v.Overflow) {
			o.maybe = true
		}
		if _, ok := v.Literal(); !ok || !isOpt {
			o.targets = append(o.targets, a)
		}
	}
	return o
}

// protectedTarget returns the first path among targets that the guard
// protects.
func (w *checker) protectedTarget(c *shell.Invocation, targets []*shell.Arg) (shell.Value, bool) {
	for _, t := range targets {
		v := w.val(t)
		if v.Overflow {
			w.refuse(c, RuleComplexity, "too many possible values for a path")
			return shell.Value{}, false
		}
		if p, ok := w.protectedPath(v); ok {
			return p, true
		}
	}
	return shell.Value{}, false
}

// protectedPath returns the first path, resolved against the working
// directory, that v may name and the guard protects.
func (w *checker) protectedPath(v shell.Values) (shell.Value, bool) {
	for _, alt := range v.Alts {
		for _, p := range w.resolve(alt) {
			if w.g.protected(p) {
				return p, true
			}
		}
	}
	return shell.Value{}, false
}

// ruleRm refuses recursive deletes of protected directories, whether or not
// forced (without a terminal, rm does not ask), and --no-preserve-root.
func (w *checker) ruleRm(c *shell.Invocation, _ string, args []*shell.Arg) {
	o := w.scanRm(args)
	if o.noPreserve {
		w.refuse(c, RuleRmRoot, `--no-preserve-root lets rm delete "/"`)
		return
	}
	if !o.recursive && !o.maybe {
		return
	}
	p, ok := w.protectedTarget(c, o.targets)
	if !ok {
		if o.recursive {
			w.refuseUnset(c, "recursive delete", o.targets)
		}
		return
	}
	what := "recursive forced delete"
	switch {
	case !o.recursive:
		what = "delete, with options the guard cannot see,"
	case !o.force:
		what = "recursive delete"
	}
	w.refuse(c, RuleRmRoot, fmt.Sprintf("%s of %q", what, p.Display()))
}

// refuseUnset refuses what (a recursive delete) of a target starting with a
// variable that neither the environment nor the command sets (SC2115).
func (w *checker) refuseUnset(c *shell.Invocation, what string, targets []*shell.Arg) {
	for _, t := range targets {
		if name := w.val(t).Unset; name != "" {
			w.refuse(c, RuleUnsetVar, fmt.Sprintf(
				"%s of a path starting with $%s, which nothing sets in this task's environment or command: "+
					"empty, it starts the path at /. Set it, or write ${%s:?} so that the shell stops when it is empty",
				what, name, name))
			return
		}
	}
}

// ruleChmod refuses recursive chmod, chown and chgrp of protected directories.
func (w *checker) ruleChmod(c *shell.Invocation, name string, args []*shell.Arg) {
	recursive, maybe := false, false
	var targets []*shell.Arg
	opts := true
	for _, a := range args[1:] {
		v := w.val(a)
		s, ok := v.Literal()
		switch {
		case ok && opts && s == "--":
			opts = false
			continue
		case ok && opts && strings.HasPrefix(s, "--"):
			long, _, _ := strings.Cut(s[2:], "=")
			recursive = recursive || isPrefix(long, "recursive")
			continue
		case ok && opts && len(s) > 1 && s[0] == '-' && strings.ContainsRune(s, 'R'):
			recursive = true
			continue
		case !ok && opts && v.Unknown:
			maybe = true
		}
		targets = append(targets, a)
	}
	if !recursive && !maybe {
		return
	}
	if p, ok := w.protectedTarget(c, targets); ok {
		w.refuse(c, RuleChmodRoot, fmt.Sprintf("recursive %s of %q", name, p.Display()))
	}
}

// powerVerbs are the systemctl and loginctl verbs that stop, restart or
// suspend the machine.
var powerVerbs = map[string]bool{
	"poweroff": true, "reboot": true, "halt": true, "kexec": true, "soft-reboot": true,
	"suspend": true, "hibernate": true, "hybrid-sleep": true, "suspend-then-hibernate": true,
	"sleep": true, "rescue": true, "emergency": true, "exit": true,
}

// powerTargets are the systemd units whose start does the same.
var powerTargets = map[string]bool{
	"poweroff.target": true, "reboot.target": true, "halt.target": true, "kexec.target": true,
	"soft-reboot.target": true, "suspend.target": true, "hibernate.target": true,
	"hybrid-sleep.target": true, "suspend-then-hibernate.target": true, "sleep.target": true,
	"rescue.target": true, "emergency.target": true, "shutdown.target": true,
	"ctrl-alt-del.target": true, "runlevel0.target": true, "runlevel1.target": true,
	"runlevel6.target": true, "exit.target": true,
}

// rulePower refuses commands that stop, restart or suspend the machine,
// unless the policy allows them.
func (w *checker) rulePower(c *shell.Invocation, name string, args []*shell.Arg) {
	if w.g.allowPower {
		return
	}
	refuse := func(what string) {
		w.refuse(c, RulePower, fmt.Sprintf("%s stops or restarts the machine (power commands are not allowed on this node)", what))
	}
	switch name {
	case "shutdown":
		for _, a := range args[1:] {
			if s, _ := w.lit(a); s == "-c" || s == "--cancel" {
				return // cancels a pending shutdown
			}
		}
		refuse(name)
	case "reboot", "halt", "poweroff", "kexec":
		refuse(name)
	case "init", "telinit":
		i := c.SkipOptions(1, "")
		if i < len(args) {
			switch s, _ := w.lit(args[i]); s {
			case "0", "1", "6", "s", "S":
				refuse(name + " " + s)
			}
		}
	case "launchctl":
		if i := c.SkipOptions(1, ""); i < len(args) {
			if s, _ := w.lit(args[i]); s == "reboot" {
				refuse("launchctl reboot")
			}
		}
	default: // systemctl, loginctl
		i := c.SkipOptions(1, "tpHMnos", "type", "property", "host", "machine", "lines",
			"output", "signal", "state", "root", "job-mode", "what", "kill-whom", "kill-value", "when", "message")
		if i >= len(args) {
			return
		}
		verb, _ := w.lit(args[i])
		if powerVerbs[verb] {
			refuse(name + " " + verb)
			return
		}
		switch verb {
		case "start", "isolate", "restart", "try-restart", "reload-or-restart", "try-reload-or-restart":
			for _, a := range args[i+1:] {
				s, _ := w.lit(a)
				unit := s
				if verb == "isolate" && !strings.Contains(unit, ".") {
					unit += ".target" // systemctl isolate names a target
				}
				if powerTargets[unit] {
					refuse(name + " " + verb + " " + s)
					return
				}
			}
		}
	}
}
