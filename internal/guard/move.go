package guard

import (
	"fmt"
	"strings"

	"github.com/fabric-run/fabric/internal/shell"
)

// ruleMv refuses moving a directory rm-root protects ("/"'s entries, a
// system directory, a home): mv /* /tmp/x leaves the machine as unusable as
// deleting them. The destination may be anything.
func (w *checker) ruleMv(c *shell.Invocation, _ string, args []*shell.Arg) {
	var ops []*shell.Arg
	target, opts := false, true
	for i := 1; i < len(args); i++ {
		s, ok := w.lit(args[i])
		switch {
		case !ok || !opts:
			ops = append(ops, args[i])
		case s == "--":
			opts = false
		case s == "-t" || s == "--target-directory" || s == "-S" || s == "--suffix":
			target = target || s == "-t" || s == "--target-directory"
			i++
		case strings.HasPrefix(s, "--target-directory="):
			target = true
		case len(s) > 1 && s[0] == '-':
			if !strings.HasPrefix(s, "--") && strings.ContainsAny(s, "tS") {
				target = target || strings.ContainsRune(s, 't')
				if c := s[len(s)-1]; c == 't' || c == 'S' {
					i++ // the value is the next word
				}
			}
		default:
			ops = append(ops, args[i])
		}
	}
	if !target && len(ops) > 0 {
		ops = ops[:len(ops)-1] // the destination
	}
	if p, ok := w.protectedTarget(c, ops); ok {
		w.refuse(c, RuleRmRoot, fmt.Sprintf("move of %q: the machine loses it where it is", p.Display()))
	}
}

// ruleRsync refuses rsync --delete (and its variants) into a directory
// rm-root protects, here or on another host, or into a path starting with a
// variable nothing sets: it deletes there whatever the source lacks.
func (w *checker) ruleRsync(c *shell.Invocation, _ string, args []*shell.Arg) {
	del := false
	for _, a := range args[1:] {
		if s, ok := w.lit(a); ok && (s == "--del" || strings.HasPrefix(s, "--delete")) {
			del = true
		}
	}
	if !del || len(args) < 3 {
		return
	}
	dest := args[len(args)-1]
	v := w.val(dest)
	if s, ok := v.Literal(); ok && strings.HasPrefix(s, "-") {
		return
	}
	var paths shell.Values
	paths.Overflow, paths.Unknown = v.Overflow, v.Unknown
	for _, alt := range v.Alts {
		paths.Alts = append(paths.Alts, remotePath(alt))
	}
	if p, ok := w.protectedPath(paths); ok {
		w.refuse(c, RuleRmRoot, fmt.Sprintf("rsync --delete into %q deletes there whatever the source lacks", p.Display()))
		return
	}
	w.refuseUnset(c, "rsync --delete into the destination", args[len(args)-1:])
}

// remotePath returns the path of an rsync or scp destination: host:path is
// path on the host ("" and "~..." its user's home).
func remotePath(v shell.Value) shell.Value {
	if v.Home || strings.HasPrefix(v.S, "rsync://") {
		return v
	}
	host, p, ok := strings.Cut(v.S, ":")
	if !ok || host == "" || strings.Contains(host, "/") {
		return v // a local path
	}
	switch {
	case p == "" || p == "~":
		return shell.Value{Home: true}
	case strings.HasPrefix(p, "~/"):
		return shell.Value{S: p[1:], Home: true}
	case !strings.HasPrefix(p, "/"):
		return shell.Value{S: "/" + p, Home: true} // relative to the remote home
	}
	return shell.Value{S: p}
}
