package guard

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/shell"
)

// TestHostileInputs feeds inputs shaped to exhaust the guard or its parser:
// each must be answered, quickly, without crashing the process. The parser
// recurses per level of nesting and a Go stack overflow is fatal, so before
// the size and nesting bounds the first case killed the test binary.
func TestHostileInputs(t *testing.T) {
	var selfRef strings.Builder
	selfRef.WriteString(`A='bash -c "$A"'; `)
	for i := range 31 {
		fmt.Fprintf(&selfRef, "A='eval $A; x%d'; ", i)
	}
	selfRef.WriteString(`bash -c "$A"`)
	tests := []struct {
		name, cmd string
		rule      string // "" for allowed
	}{
		{"stack-overflowing parens", strings.Repeat("(", 160000) + strings.Repeat(")", 160000), RuleComplexity},
		{"brackets one too deep", strings.Repeat("(", shell.MaxNesting+1) + "1" + strings.Repeat(")", shell.MaxNesting+1), RuleComplexity},
		{"brackets as deep as allowed", strings.Repeat("(", shell.MaxNesting) + "1" + strings.Repeat(")", shell.MaxNesting), ""},
		{"deep command substitution", strings.Repeat("$(", 300) + "x" + strings.Repeat(")", 300), RuleComplexity},
		{"code one byte too long", "echo " + strings.Repeat("a", shell.MaxCode-4), RuleComplexity},
		{"code as long as allowed", "echo " + strings.Repeat("a", shell.MaxCode-5), ""},
		{"deep function nesting", strings.Repeat("f() ", shell.MaxCode/4-10) + "{ x; }", ""},
		{"deep test negation", "[[ " + strings.Repeat("! ", shell.MaxCode/2-10) + "a ]]", ""},
		{"self-referential bash -c", selfRef.String(), RuleComplexity},
		{"brace product", "rm -rf " + strings.Repeat("{a,b,c,d}", 12), RuleComplexity},
		{"doubling variable", "A=x; " + strings.Repeat("A=$A$A; ", 30) + "rm -rf $A", RuleComplexity},
		{"heredoc of defaults", "bash <<EOF\n" + strings.Repeat("echo $X $(y) ${z:-/tmp} ${w:-x}\n", 1000) + "EOF", ""},
		{"many evals", strings.Repeat(`eval 'eval "eval ls"'; `, 2500), ""},
	}
	g := mustNew(t, Policy{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := g.Check(tc.cmd)
			// Generous: the point is that it ends, not a benchmark.
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Check took %v", d)
			}
			var r *Refusal
			switch {
			case tc.rule == "" && err != nil:
				t.Errorf("Check(%.60q...) = %.200v, want nil", tc.cmd, err)
			case tc.rule != "" && (!errors.As(err, &r) || r.Rule != tc.rule):
				t.Errorf("Check(%.60q...) = %.200v, want rule %q", tc.cmd, err, tc.rule)
			}
		})
	}
}
