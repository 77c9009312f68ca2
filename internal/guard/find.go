package guard

import (
	"fmt"
	"path"

	"github.com/fabric-run/fabric/internal/shell"
)

// ruleFind refuses find deleting under a protected directory: -delete, or
// -exec rm, with no test narrowing the search; and under "/" or a system
// directory whatever the tests (-name '*' or -mtime +0 narrow nothing, and a
// typo in a filter is enough). The commands -exec runs are also judged as
// invocations of their own, {} standing for every path found.
func (w *checker) ruleFind(c *shell.Invocation, _ string, _ []*shell.Arg) {
	f := c.Find()
	how := ""
	switch {
	case f.Delete:
		how = "-delete"
	case w.execRm(c, f.Execs):
		how = "-exec rm"
	default:
		return
	}
	for _, alt := range f.Starts.Alts {
		for _, p := range w.resolve(alt) {
			switch {
			case !f.Filtered && w.g.protected(p):
				w.refuse(c, RuleRmRoot, fmt.Sprintf("find %s of everything under %q", how, p.Display()))
				return
			case f.Filtered && systemPath(p):
				w.refuse(c, RuleRmRoot, fmt.Sprintf("find %s under %q: tests do not make deleting in / or a system directory safe", how, p.Display()))
				return
			}
		}
	}
}

// execRm reports whether one of find's -exec commands runs rm or unlink.
func (w *checker) execRm(c *shell.Invocation, execs [][]*shell.Arg) bool {
	for _, e := range execs {
		for _, a := range e {
			if s, ok := c.Lit(a); ok && (path.Base(s) == "rm" || path.Base(s) == "unlink") {
				return true
			}
		}
	}
	return false
}
