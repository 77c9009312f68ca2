package shell

import (
	"fmt"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// state is shared by every walker of one walk.
type state struct {
	work int     // budget left, see WorkBudget
	err  error   // the error that ended the walk; once set, walking stops
	v    Visitor // what the walk reports to
	opts Options
	inv  Invocation // the event of each invocation in turn
}

// walker walks the syntax of one piece of shell code. Walkers of code nested
// in it (bash -c strings) share its state and variables.
type walker struct {
	st     *state
	src    string            // the code walked, for fragments
	depth  int               // how many strings deep the code is
	remote bool              // the code runs in a container or on another host
	vars   map[string]Values // variables assigned so far, see assign
	cwd    Values            // the working directory, when cd made it known
	cond   int               // > 0 inside code that may not run (branches, loops, functions)
	funcs  map[string]bool   // functions the code defines, with Options.Funcs
	pipeIn *Values           // what the previous command of a pipeline writes, when it is shell code
}

// newWalker returns the walker for a top-level walk of src.
func newWalker(src string, opts Options, v Visitor) *walker {
	cwd := unknownValue
	if opts.Cwd != nil {
		cwd = Values{Alts: []Value{*opts.Cwd}}
	}
	return &walker{
		st:   &state{work: WorkBudget, v: v, opts: opts},
		src:  src,
		vars: map[string]Values{},
		cwd:  cwd,
	}
}

// stopped reports whether an error ended the walk.
func (w *walker) stopped() bool { return w.st.err != nil }

// fail ends the walk with err, unless it has already ended.
func (w *walker) fail(err error) {
	if w.st.err == nil {
		w.st.err = err
	}
}

// tooComplex ends the walk with an error wrapping ErrTooComplex.
func (w *walker) tooComplex(reason, fragment string) {
	w.fail(&Error{Err: ErrTooComplex, Reason: reason, Fragment: fragment})
}

// spend takes n from the work budget and ends the walk once it is gone.
func (w *walker) spend(n int) {
	w.st.work -= n
	if w.st.work < 0 {
		w.tooComplex("the command is too large or expands too much to check", "")
	}
}

// text returns the source of node n.
func (w *walker) text(n syntax.Node) string {
	start, end := n.Pos().Offset(), n.End().Offset()
	if n.Pos().IsValid() && start < end && end <= uint(len(w.src)) {
		return w.src[start:end]
	}
	var b strings.Builder
	if err := syntax.NewPrinter(syntax.SingleLine(true)).Print(&b, n); err != nil {
		return ""
	}
	return b.String()
}

// Shell language variants the walk parses.
const (
	langBash = syntax.LangBash
	langZsh  = syntax.LangZsh
	langMksh = syntax.LangMirBSDKorn
)

// run parses src as shell code and walks it. c is the command that runs the
// code (nil at the top level); when lenient, code that does not parse is
// ignored instead of failing the walk (it may not be code at all).
func (w *walker) run(src string, lang syntax.LangVariant, c *call, lenient bool) {
	if w.stopped() {
		return
	}
	w.spend(len(src) + parseCost)
	if w.stopped() {
		return
	}
	if err := Bound(src); err != nil {
		w.tooComplex(strings.TrimPrefix(err.Error(), ErrTooComplex.Error()+": "), src)
		return
	}
	f, err := syntax.NewParser(syntax.Variant(lang)).Parse(strings.NewReader(src), "")
	if err != nil {
		if !lenient {
			w.fail(&Error{Err: ErrParse, Reason: err.Error(), Fragment: src})
		}
		return
	}
	if w.st.opts.Funcs {
		w.funcs = definedFuncs(f)
	}
	w.stmts(f.Stmts)
}

// nested walks src, code run by the command c: a new parse one level deeper,
// sharing variables, with its own working directory.
func (w *walker) nested(src string, lang syntax.LangVariant, c *call, lenient bool) {
	if w.stopped() {
		return
	}
	if w.depth+1 > MaxDepth {
		w.tooComplex(fmt.Sprintf("shell code nested more than %d deep", MaxDepth), c.fragment(w))
		return
	}
	child := &walker{st: w.st, src: src, depth: w.depth + 1, remote: w.remote, vars: w.vars, cwd: w.cwd}
	child.run(src, lang, c, lenient)
}

// definedFuncs returns the names of the functions file defines.
func definedFuncs(f *syntax.File) map[string]bool {
	var names map[string]bool
	syntax.Walk(f, func(n syntax.Node) bool {
		if fd, ok := n.(*syntax.FuncDecl); ok {
			if names == nil {
				names = map[string]bool{}
			}
			for _, l := range funcNames(fd) {
				names[l.Value] = true
			}
		}
		return true
	})
	return names
}

// funcNames returns the names a function declaration defines.
func funcNames(fd *syntax.FuncDecl) []*syntax.Lit {
	if fd.Name != nil {
		return []*syntax.Lit{fd.Name}
	}
	return fd.Names
}

// stmts walks a list of statements in order.
func (w *walker) stmts(list []*syntax.Stmt) {
	for _, s := range list {
		if w.stopped() {
			return
		}
		w.stmt(s)
	}
}

// stmt walks one statement: its command, then its redirections.
func (w *walker) stmt(s *syntax.Stmt) {
	pipeIn := w.pipeIn
	w.pipeIn = nil
	if s.Cmd != nil {
		w.command(s, pipeIn)
	}
	for _, r := range s.Redirs {
		if w.stopped() {
			return
		}
		w.words(r.Word)
		if r.Hdoc != nil {
			w.words(r.Hdoc)
		}
		w.redirect(s, r)
	}
}

// command walks the command of statement s.
func (w *walker) command(s *syntax.Stmt, pipeIn *Values) {
	switch c := s.Cmd.(type) {
	case *syntax.CallExpr:
		for _, a := range c.Assigns {
			w.words(a)
		}
		for _, a := range c.Args {
			w.words(a)
		}
		w.callExpr(s, c, pipeIn)
	case *syntax.Block:
		w.stmts(c.Stmts)
	case *syntax.Subshell:
		w.scoped(func() { w.stmts(c.Stmts) })
	case *syntax.BinaryCmd:
		w.binary(c)
	case *syntax.IfClause:
		w.ifClause(c)
	case *syntax.WhileClause:
		w.stmts(c.Cond)
		w.branch(func() { w.stmts(c.Do) })
	case *syntax.ForClause:
		w.forClause(c)
	case *syntax.CaseClause:
		w.words(c.Word)
		for _, item := range c.Items {
			for _, p := range item.Patterns {
				w.words(p)
			}
			w.branch(func() { w.stmts(item.Stmts) })
		}
	case *syntax.FuncDecl:
		w.funcDecl(c)
	case *syntax.DeclClause:
		for _, a := range c.Args {
			w.words(a)
			w.assignNode(a)
		}
	case *syntax.TimeClause:
		if c.Stmt != nil {
			w.stmt(c.Stmt)
		}
	case *syntax.CoprocClause:
		w.stmt(c.Stmt)
	case *syntax.TestDecl:
		w.words(c.Description)
		w.stmt(c.Body)
	default:
		// Arithmetic and test commands, let, and whatever a newer parser
		// adds: walk everything in them.
		w.words(c)
	}
}

// scoped runs f in a subshell: cd does not outlive it.
func (w *walker) scoped(f func()) {
	cwd := w.cwd
	f()
	w.cwd = cwd
}

// branch runs f as code that may not run at all.
func (w *walker) branch(f func()) {
	w.cond++
	f()
	w.cond--
}

// binary walks a && b, a || b and pipelines.
func (w *walker) binary(c *syntax.BinaryCmd) {
	switch c.Op {
	case syntax.Pipe, syntax.PipeAll:
		w.scoped(func() { w.stmt(c.X) })
		in := w.pipeText(c.X)
		w.scoped(func() {
			w.pipeIn = in
			w.stmt(c.Y)
			w.pipeIn = nil
		})
	default:
		w.stmt(c.X)
		w.branch(func() { w.stmt(c.Y) })
	}
}

// ifClause walks if, elif and else.
func (w *walker) ifClause(c *syntax.IfClause) {
	w.stmts(c.Cond)
	w.branch(func() {
		w.stmts(c.Then)
		if c.Else != nil {
			w.ifClause(c.Else)
		}
	})
}

// forClause walks a for loop; the loop variable takes every item's values.
func (w *walker) forClause(c *syntax.ForClause) {
	w.branch(func() {
		switch l := c.Loop.(type) {
		case *syntax.WordIter:
			var v Values
			if l.InPos.IsValid() || len(l.Items) > 0 {
				for _, item := range l.Items {
					w.words(item)
					v = w.union(v, w.fields(item, evalMode{}), maxVarAlts)
				}
			} else {
				v = unknownValue // for x; do: the positional parameters
			}
			w.assignLoop(l.Name.Value, v)
		default:
			w.words(l)
		}
		w.stmts(c.Do)
	})
}

// funcDecl reports a function definition and walks its body, which may run
// whether or not the code calls it.
func (w *walker) funcDecl(fd *syntax.FuncDecl) {
	w.visit(w.st.v.Func(&Func{decl: fd, site: site{w: w, node: fd}}))
	if w.stopped() {
		return
	}
	w.branch(func() { w.stmt(fd.Body) })
}

// onlyLit reports whether word is made of literal parts alone.
func onlyLit(word *syntax.Word) bool {
	for _, p := range word.Parts {
		if _, ok := p.(*syntax.Lit); !ok {
			return false
		}
	}
	return true
}

// words walks node for the code inside it: command and process
// substitutions, and any statement.
func (w *walker) words(node syntax.Node) {
	if node == nil || w.stopped() {
		return
	}
	if word, ok := node.(*syntax.Word); ok && (word == nil || onlyLit(word)) {
		return // nothing inside to run
	}
	syntax.Walk(node, func(n syntax.Node) bool {
		if w.stopped() {
			return false
		}
		switch n := n.(type) {
		case *syntax.CmdSubst:
			w.scoped(func() { w.stmts(n.Stmts) })
			return false
		case *syntax.ProcSubst:
			w.scoped(func() { w.stmts(n.Stmts) })
			return false
		case *syntax.Stmt:
			w.stmt(n)
			return false
		}
		return true
	})
}
