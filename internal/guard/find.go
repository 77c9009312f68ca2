package guard

import (
	"fmt"

	"github.com/fabric-run/fabric/internal/shell"
)

// ruleFind refuses find deleting everything under a protected directory:
// -delete when no test narrows the search. (The commands -exec runs are
// judged as invocations of their own, {} standing for every path found.)
func (w *checker) ruleFind(c *shell.Invocation, _ string, _ []*shell.Arg) {
	f := c.Find()
	if !f.Delete || f.Filtered {
		return
	}
	if p, ok := w.protectedPath(f.Starts); ok {
		w.refuse(c, RuleRmRoot, fmt.Sprintf("find -delete of everything under %q", p.Display()))
	}
}
