package shell

import (
	"path"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// arg is one argument of a command: a shell word, or a literal string in argv
// mode and where the walk substitutes a value (find's {}).
type arg struct {
	word    *syntax.Word
	vals    Values  // cached fields, when hasVals
	code    *Values // cached text, see evalMode
	hasVals bool    // vals is known

}

// fixedArg is an argument whose values are v, with no word.
func fixedArg(v Values) *arg { return &arg{vals: v, hasVals: true} }

// call is one command the shell runs, with what the walk needs to follow it.
type call struct {
	args  []*arg
	node  syntax.Node // the command's code, for the fragment; nil in argv mode
	frag  string      // the fragment in argv mode
	stdin *Values     // shell code on its standard input (heredoc, herestring, echo ... |)
}

// fragment returns the code of the command; "" for none.
func (c *call) fragment(w *walker) string {
	if c == nil {
		return ""
	}
	if c.node != nil {
		return w.text(c.node)
	}
	return c.frag
}

// val returns the values of an argument as the program receives them.
func (w *walker) val(a *arg) Values {
	if !a.hasVals {
		a.vals, a.hasVals = w.fields(a.word, evalMode{}), true
	}
	return a.vals
}

// code returns the values of an argument the program runs as shell code:
// parts the walk cannot see become a placeholder the nested walk treats as
// unknown.
func (w *walker) code(a *arg) Values {
	if a.word == nil {
		return a.vals // a fixed value
	}
	if a.code == nil {
		v := w.eval(a.word, evalMode{text: true})
		a.code = &v
	}
	return *a.code
}

// lit returns an argument's value when it is a single known literal.
func (w *walker) lit(a *arg) (string, bool) { return w.val(a).Literal() }

// joinCode returns the values of args joined by sep, as code.
func (w *walker) joinCode(args []*arg, sep string) Values {
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

// callExpr walks a simple command.
func (w *walker) callExpr(s *syntax.Stmt, ce *syntax.CallExpr, pipeIn *Values) {
	for _, a := range ce.Assigns {
		w.assignNode(a)
	}
	if len(ce.Args) == 0 || w.stopped() {
		return
	}
	c := &call{node: ce, args: make([]*arg, len(ce.Args)), stdin: w.stdinOf(s.Redirs, pipeIn)}
	block := make([]arg, len(ce.Args))
	for i, word := range ce.Args {
		block[i].word = word
		c.args[i] = &block[i]
	}
	w.invoke(c, c.args)
}

// invoke walks args as a program and its arguments, run by command c.
func (w *walker) invoke(c *call, args []*arg) {
	if len(args) == 0 || w.stopped() {
		return
	}
	pv := w.val(args[0])
	if pv.Overflow {
		w.tooComplex("too many possible program names", c.fragment(w))
		return
	}
	if pv.Unknown || len(pv.Alts) == 0 {
		w.visit(w.st.v.Invoke(w.invocation(c, "", args)))
	}
	if word := args[0].word; word != nil && expandsToWords(word) {
		w.splitProgram(c, word, args[1:])
	}
	for _, v := range pv.Alts {
		if w.stopped() {
			return
		}
		name := v.S
		if strings.Contains(name, "/") {
			name = path.Base(name)
		}
		if name == "" || name == "/" {
			continue // an empty command runs nothing, nor does a directory
		}
		w.program(c, name, args)
	}
}

// splitProgram walks a command line held in a variable ($RM /usr with
// RM="rm -rf", "${cmd[@]}"): each value of the program word that splits into
// several words is a program and its first arguments, before the rest.
func (w *walker) splitProgram(c *call, word *syntax.Word, rest []*arg) {
	for _, alt := range w.eval(word, evalMode{}).Alts {
		fs := strings.Fields(alt.S)
		if len(fs) < 2 || alt.Home {
			continue
		}
		args := make([]*arg, 0, len(fs)+len(rest))
		for _, f := range fs {
			args = append(args, fixedArg(one(f)))
		}
		w.invoke(c, append(args, rest...))
		if w.stopped() {
			return
		}
	}
}

// invocation returns the event of running name (args[0] is its own word).
// Events are valid only during the visitor's call: the walk reuses one.
func (w *walker) invocation(c *call, name string, args []*arg) *Invocation {
	_, wrapper := wrappers[name]
	inv := &w.st.inv
	*inv = Invocation{
		Name:    name,
		Args:    args,
		Remote:  w.remote,
		Wrapper: wrapper,
		Func:    w.funcs[name],
		site:    site{w: w, node: c.node, frag: c.frag},
	}
	return inv
}

// program reports the program name run with args (args[0] is its own
// word), then walks what it runs in turn.
func (w *walker) program(c *call, name string, args []*arg) {
	w.visit(w.st.v.Invoke(w.invocation(c, name, args)))
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
	}
}

// runCode walks every value v may take as shell code run by c.
func (w *walker) runCode(c *call, v Values, lang syntax.LangVariant, lenient bool) {
	if v.Overflow {
		w.tooComplex("too many possible values for shell code", c.fragment(w))
		return
	}
	for _, alt := range v.Alts {
		src := alt.S
		if alt.Home {
			src = "~" + alt.S
		}
		w.nested(src, lang, c, lenient)
		if w.stopped() {
			return
		}
	}
}

// stdinOf returns the shell code a command reads on its standard input: a
// heredoc, a herestring or what the previous command of its pipeline prints.
func (w *walker) stdinOf(redirs []*syntax.Redirect, pipeIn *Values) *Values {
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
			in = nil // a file or descriptor the walk cannot read
		}
	}
	return in
}

// heredoc returns the body of a heredoc.
func (w *walker) heredoc(r *syntax.Redirect) Values {
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
func (w *walker) pipeText(s *syntax.Stmt) *Values {
	ce, ok := s.Cmd.(*syntax.CallExpr)
	if !ok || len(ce.Args) == 0 || w.stopped() {
		return nil
	}
	args := make([]*arg, len(ce.Args))
	for i, word := range ce.Args {
		args[i] = &arg{word: word}
	}
	name, _ := w.lit(args[0])
	var v Values
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
func (w *walker) decodeCode(v Values) Values {
	alts := make([]Value, len(v.Alts))
	for i, a := range v.Alts {
		alts[i] = Value{S: ansiC(a.S), Home: a.Home}
	}
	v.Alts = alts
	return v
}

// redirect reports a redirection of statement s that writes to a path.
func (w *walker) redirect(s *syntax.Stmt, r *syntax.Redirect) {
	switch r.Op {
	case syntax.RdrOut, syntax.AppOut, syntax.RdrClob, syntax.AppClob, syntax.RdrAll,
		syntax.RdrAllClob, syntax.AppAll, syntax.AppAllClob, syntax.RdrInOut, syntax.DplOut:
	default:
		return
	}
	v := w.eval(r.Word, evalMode{})
	if d, ok := v.Literal(); r.Op == syntax.DplOut && ok && (d == "-" || strings.Trim(d, "0123456789") == "") {
		return // >&2, >&-: a descriptor
	}
	w.visit(w.st.v.Write(&Write{Target: v, site: site{w: w, node: s}}))
}
