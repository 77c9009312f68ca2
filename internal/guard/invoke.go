package guard

import (
	"fmt"
	"path"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// arg is one argument of a command: a shell word, or a literal string in argv
// mode and where the guard substitutes a value (find's {}).
type arg struct {
	word  *syntax.Word
	fixed *values // the value when there is no word
	vals  *values // cached fields
	code  *values // cached text, see evalMode
}

// literalArg is an argument whose value is exactly s.
func literalArg(s string) *arg {
	v := one(s)
	return &arg{fixed: &v}
}

// call is one command the shell runs, with what the guard needs to judge it.
type call struct {
	args  []*arg
	node  syntax.Node // the command's code, for the fragment; nil in argv mode
	frag  string      // the fragment in argv mode
	stdin *values     // shell code on its standard input (heredoc, herestring, echo ... |)
}

// fragment returns the code of the command.
func (c *call) fragment(w *walker) string {
	if c.node != nil {
		return w.text(c.node)
	}
	return c.frag
}

// val returns the values of an argument as the program receives them.
func (w *walker) val(a *arg) values {
	if a.fixed != nil {
		return *a.fixed
	}
	if a.vals == nil {
		v := w.fields(a.word, evalMode{})
		a.vals = &v
	}
	return *a.vals
}

// code returns the values of an argument the program runs as shell code:
// parts the guard cannot see become a placeholder the nested walk treats as
// unknown.
func (w *walker) code(a *arg) values {
	if a.fixed != nil {
		return *a.fixed
	}
	if a.code == nil {
		v := w.eval(a.word, evalMode{text: true})
		a.code = &v
	}
	return *a.code
}

// lit returns an argument's value when it is a single known literal.
func (w *walker) lit(a *arg) (string, bool) { return w.val(a).literal() }

// joinCode returns the values of args joined by sep, as code.
func (w *walker) joinCode(args []*arg, sep string) values {
	b := w.builder(evalMode{text: true})
	for i, a := range args {
		if i > 0 {
			b.add(one(sep))
		}
		b.add(w.code(a))
		if w.stopped() {
			break
		}
	}
	return b.values()
}

// callExpr judges a simple command.
func (w *walker) callExpr(s *syntax.Stmt, ce *syntax.CallExpr, pipeIn *values) {
	for _, a := range ce.Assigns {
		w.assignNode(a)
	}
	if len(ce.Args) == 0 || w.stopped() {
		return
	}
	c := &call{node: ce, args: make([]*arg, len(ce.Args)), stdin: w.stdinOf(s.Redirs, pipeIn)}
	for i, word := range ce.Args {
		c.args[i] = &arg{word: word}
	}
	w.invoke(c, c.args)
}

// invoke judges args as a program and its arguments, run by command c.
func (w *walker) invoke(c *call, args []*arg) {
	if len(args) == 0 || w.stopped() {
		return
	}
	pv := w.val(args[0])
	if pv.overflow {
		w.refuse(c, RuleComplexity, "too many possible program names")
		return
	}
	if (pv.unknown || len(pv.alts) == 0) && w.g.allow != nil && !w.remote {
		w.refuse(c, RuleAllowList, "program name is not a literal")
		return
	}
	if pv.unknown || len(pv.alts) == 0 {
		w.unknownProgram(c, args)
	}
	for _, v := range pv.alts {
		name := v.s
		if strings.Contains(name, "/") {
			name = path.Base(name)
		}
		if name == "" || name == "/" {
			continue // an empty command runs nothing, nor does a directory
		}
		w.program(c, name, args)
		if w.stopped() {
			return
		}
	}
}

// program judges the program name run with args (args[0] is its own word).
func (w *walker) program(c *call, name string, args []*arg) {
	w.checkPolicy(c, name)
	if w.stopped() {
		return
	}
	if spec, ok := wrappers[name]; ok {
		w.unwrap(c, name, spec, args)
		return
	}
	if lang, ok := shells[name]; ok {
		w.shell(c, lang, args)
		return
	}
	switch name {
	case "eval":
		v := w.joinCode(args[1:], " ")
		w.runCode(c, v, langBash, false)
	case "trap":
		w.trap(c, args)
	case "alias":
		w.alias(c, args)
	case "su", "runuser":
		w.su(c, name, args)
	case "flock":
		w.flock(c, args)
	case "watch":
		w.watch(c, args)
	case "find":
		w.find(c, args)
	case "ssh":
		w.ssh(c, args)
	case "docker", "podman", "nerdctl", "kubectl":
		w.container(c, args)
	case "cd", "pushd":
		w.cd(args)
	case "popd":
		w.cwd = unknownValue
	default:
		w.rules(c, name, args)
	}
}

// runCode walks every value v may take as shell code run by c.
func (w *walker) runCode(c *call, v values, lang syntax.LangVariant, lenient bool) {
	if v.overflow {
		w.refuse(c, RuleComplexity, "too many possible values for shell code")
		return
	}
	for _, alt := range v.alts {
		src := alt.s
		if alt.home {
			src = "~" + alt.s
		}
		w.nested(src, lang, c, lenient)
		if w.stopped() {
			return
		}
	}
}

// stdinOf returns the shell code a command reads on its standard input: a
// heredoc, a herestring or what the previous command of its pipeline prints.
func (w *walker) stdinOf(redirs []*syntax.Redirect, pipeIn *values) *values {
	in := pipeIn
	for _, r := range redirs {
		if r.N != nil && r.N.Value != "0" {
			continue
		}
		switch r.Op {
		case syntax.Hdoc, syntax.DashHdoc:
			v := w.heredoc(r)
			in = &v
		case syntax.WordHdoc:
			v := w.concat(w.eval(r.Word, evalMode{text: true}), one("\n"))
			in = &v
		case syntax.RdrIn, syntax.RdrInOut, syntax.DplIn:
			in = nil // a file or descriptor the guard cannot read
		}
	}
	return in
}

// heredoc returns the body of a heredoc.
func (w *walker) heredoc(r *syntax.Redirect) values {
	if r.Hdoc == nil {
		return one("")
	}
	if len(r.Word.Parts) == 1 && r.Word.Lit() != "" && !strings.Contains(r.Word.Lit(), "\\") {
		// Unquoted delimiter: the body expands like a double-quoted string.
		return w.evalParts(r.Hdoc.Parts, evalMode{text: true}, true, false)
	}
	var b strings.Builder
	for _, p := range r.Hdoc.Parts {
		if lit, ok := p.(*syntax.Lit); ok {
			b.WriteString(lit.Value)
		}
	}
	return one(b.String())
}

// pipeText returns the shell code statement s prints, when it is echo, printf
// or cat of a heredoc feeding a pipeline.
func (w *walker) pipeText(s *syntax.Stmt) *values {
	ce, ok := s.Cmd.(*syntax.CallExpr)
	if !ok || len(ce.Args) == 0 || w.stopped() {
		return nil
	}
	args := make([]*arg, len(ce.Args))
	for i, word := range ce.Args {
		args[i] = &arg{word: word}
	}
	name, _ := w.lit(args[0])
	var v values
	switch path.Base(name) {
	case "echo":
		rest := args[1:]
		for len(rest) > 0 {
			s, ok := w.lit(rest[0])
			if !ok || len(s) < 2 || strings.Trim(s[1:], "neE") != "" || s[0] != '-' {
				break
			}
			rest = rest[1:]
		}
		v = w.decodeCode(w.joinCode(rest, " "))
	case "printf":
		if len(args) < 2 {
			return nil
		}
		// The format, then each argument on a line of its own: more code
		// than printf prints, never less.
		v = w.concat(w.decodeCode(w.code(args[1])), one("\n"))
		v = w.concat(v, w.joinCode(args[2:], "\n"))
	case "cat":
		if len(args) > 1 {
			return nil
		}
		return w.stdinOf(s.Redirs, nil)
	default:
		return nil
	}
	return &v
}

// decodeCode applies echo -e and printf escapes to every value of v.
func (w *walker) decodeCode(v values) values {
	alts := make([]value, len(v.alts))
	for i, a := range v.alts {
		alts[i] = value{s: ansiC(a.s), home: a.home}
	}
	v.alts = alts
	return v
}

// unknownProgram judges a command whose program name the guard cannot see:
// it refuses what would be a recursive forced delete of a protected directory
// were the program rm ($CMD -rf /).
func (w *walker) unknownProgram(c *call, args []*arg) {
	o := w.scanRm(args)
	if !o.recursive || !o.force {
		return
	}
	if v, ok := w.protectedTarget(c, o.targets); ok {
		w.refuse(c, RuleRmRoot, fmt.Sprintf("recursive forced delete of %q by a program whose name is not a literal", v.display()))
	}
}

// redirect judges a redirection of statement s.
func (w *walker) redirect(s *syntax.Stmt, r *syntax.Redirect) {
	switch r.Op {
	case syntax.RdrOut, syntax.AppOut, syntax.RdrClob, syntax.AppClob, syntax.RdrAll,
		syntax.RdrAllClob, syntax.AppAll, syntax.AppAllClob, syntax.RdrInOut, syntax.DplOut:
	default:
		return
	}
	v := w.eval(r.Word, evalMode{})
	if d, ok := v.literal(); r.Op == syntax.DplOut && ok && (d == "-" || strings.Trim(d, "0123456789") == "") {
		return // >&2, >&-: a descriptor
	}
	if v.overflow {
		w.refuseAt(s, RuleComplexity, "too many possible redirection targets")
		return
	}
	for _, alt := range v.alts {
		if rule, reason := w.writeTarget(alt); rule != "" {
			w.refuseAt(s, rule, reason)
			return
		}
	}
}
