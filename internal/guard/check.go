package guard

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/fabric-run/fabric/internal/shell"
)

// maxFragment is the most bytes of a refusal's fragment.
const maxFragment = 160

// site is where an event of the walk happens: an invocation or a write.
type site interface {
	Fragment() string
	Resolve(shell.Value) []shell.Value
}

// checker judges the events of one walk (a shell.Visitor): the first
// refusal ends the walk.
type checker struct {
	g   *Guard
	inv *shell.Invocation // the invocation being judged
	at  site              // where the event being judged happens
	r   *Refusal          // the first refusal
	// envKnown is set on the node: the walk knows the whole environment.
	envKnown bool
}

// newChecker returns a checker for one command.
func (g *Guard) newChecker() *checker { return &checker{g: g} }

// options are the walk's options for g.
func (w *checker) options() shell.Options {
	return shell.Options{Funcs: w.g.allow != nil, Rules: hasRule}
}

// hasRule reports whether the guard has a rule for the program name.
func hasRule(name string) bool { return ruleFor(name) != nil }

// result turns the walk's error into the check's answer.
func (w *checker) result(err error) error {
	var se *shell.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		rule := RuleParse
		if errors.Is(se, shell.ErrTooComplex) {
			rule = RuleComplexity
		}
		return &Refusal{Rule: rule, Reason: se.Reason, Fragment: shorten(se.Fragment)}
	}
	return err
}

// stopped reports whether a refusal ended the check.
func (w *checker) stopped() bool { return w.r != nil }

// refuse records a refusal of the code at c.
func (w *checker) refuse(c site, rule, reason string) {
	if w.r == nil {
		w.r = &Refusal{Rule: rule, Reason: reason, Fragment: shorten(c.Fragment())}
	}
}

// answer returns the refusal, if any, as the visitor's error.
func (w *checker) answer() error {
	if w.r != nil {
		return w.r
	}
	return nil
}

// val returns the values of an argument of the invocation being judged.
func (w *checker) val(a *shell.Arg) shell.Values { return w.inv.Value(a) }

// lit returns an argument's value when it is a single known literal.
func (w *checker) lit(a *shell.Arg) (string, bool) { return w.inv.Lit(a) }

// resolve returns the paths p may name where the event happens.
func (w *checker) resolve(p shell.Value) []shell.Value { return w.at.Resolve(p) }

// Invoke judges one invoked program: the node's lists, then its rule.
func (w *checker) Invoke(inv *shell.Invocation) error {
	w.inv, w.at = inv, inv
	if inv.Name == "" {
		if w.g.allow != nil && !inv.Remote {
			w.refuse(inv, RuleAllowList, "program name is not a literal")
			return w.answer()
		}
		w.unknownProgram(inv, inv.Args)
		return w.answer()
	}
	w.checkPolicy(inv, inv.Name)
	if !w.stopped() {
		w.rules(inv, inv.Name, inv.Args)
	}
	return w.answer()
}

// Write judges a redirection that writes to a path.
func (w *checker) Write(wr *shell.Write) error {
	w.at = wr
	if wr.Target.Overflow {
		w.refuse(wr, RuleComplexity, "too many possible redirection targets")
		return w.answer()
	}
	for _, alt := range wr.Target.Alts {
		if rule, reason := w.writeTarget(alt); rule != "" {
			w.refuse(wr, rule, reason)
			break
		}
	}
	return w.answer()
}

// Func refuses a function that spawns copies of itself.
func (w *checker) Func(f *shell.Func) error {
	if name, ok := f.SelfSpawning(); ok {
		w.refuse(f, RuleForkBomb, fmt.Sprintf("function %q calls itself in a pipeline, in the background or in a subshell", name))
	}
	return w.answer()
}

// unknownProgram judges a command whose program name the guard cannot see:
// it refuses what would be a recursive forced delete of a protected directory
// were the program rm ($CMD -rf /).
func (w *checker) unknownProgram(c *shell.Invocation, args []*shell.Arg) {
	o := w.scanRm(args)
	if !o.recursive || !o.force {
		return
	}
	if v, ok := w.protectedTarget(c, o.targets); ok {
		w.refuse(c, RuleRmRoot, fmt.Sprintf("recursive forced delete of %q by a program whose name is not a literal", v.Display()))
	}
}

// shorten makes a fragment fit in a refusal: one line, at most maxFragment bytes.
func shorten(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\n", `\n`)
	if len(s) <= maxFragment {
		return s
	}
	cut := maxFragment
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
