package guard

import (
	"fmt"
	"strings"

	"mvdan.cc/sh/v3/syntax"

	"github.com/fabric-run/fabric/internal/shparse"
)

// state is shared by every walker of one check.
type state struct {
	work    int      // budget left, see workBudget
	refusal *Refusal // the first refusal; once set, walking stops
}

// walker walks the syntax of one piece of shell code. Walkers of code nested
// in it (bash -c strings) share its state and variables.
type walker struct {
	g      *Guard
	st     *state
	src    string            // the code walked, for fragments
	depth  int               // how many strings deep the code is
	remote bool              // the code runs in a container or on another host: policy lists do not apply
	vars   map[string]values // variables assigned so far, see assign
	cwd    values            // the working directory, when cd made it known
	cond   int               // > 0 inside code that may not run (branches, loops, functions)
	funcs  map[string]bool   // functions the code defines, in allow-list mode
	pipeIn *values           // what the previous command of a pipeline writes, when it is shell code
}

// newWalker returns the walker for a top-level check of src.
func (g *Guard) newWalker(src string) *walker {
	return &walker{
		g:    g,
		st:   &state{work: workBudget},
		src:  src,
		vars: map[string]values{},
		cwd:  unknownValue,
	}
}

// stopped reports whether a refusal ended the check.
func (w *walker) stopped() bool { return w.st.refusal != nil }

// spend takes n from the work budget and refuses once it is gone.
func (w *walker) spend(n int) {
	w.st.work -= n
	if w.st.work < 0 && w.st.refusal == nil {
		w.st.refusal = &Refusal{Rule: RuleComplexity, Reason: "the command is too large or expands too much to check"}
	}
}

// refuse records a refusal of the command c (nil: no fragment).
func (w *walker) refuse(c *call, rule, reason string) {
	if w.st.refusal != nil {
		return
	}
	frag := ""
	if c != nil {
		frag = c.fragment(w)
	}
	w.st.refusal = &Refusal{Rule: rule, Reason: reason, Fragment: shorten(frag)}
}

// refuseAt records a refusal whose fragment is the code of node n.
func (w *walker) refuseAt(n syntax.Node, rule, reason string) {
	if w.st.refusal != nil {
		return
	}
	w.st.refusal = &Refusal{Rule: rule, Reason: reason, Fragment: shorten(w.text(n))}
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

// Shell language variants the guard parses.
const (
	langBash = syntax.LangBash
	langZsh  = syntax.LangZsh
	langMksh = syntax.LangMirBSDKorn
)

// run parses src as shell code and walks it. c is the command that runs the
// code (nil at the top level); when lenient, code that does not parse is
// ignored instead of refused (it may not be code at all).
func (w *walker) run(src string, lang syntax.LangVariant, c *call, lenient bool) {
	if w.stopped() {
		return
	}
	w.spend(len(src) + parseCost)
	if w.stopped() {
		return
	}
	if err := shparse.Bound(src); err != nil {
		w.st.refusal = &Refusal{Rule: RuleComplexity, Reason: strings.TrimPrefix(err.Error(), shparse.ErrTooComplex.Error()+": "), Fragment: shorten(src)}
		return
	}
	f, err := syntax.NewParser(syntax.Variant(lang)).Parse(strings.NewReader(src), "")
	if err != nil {
		if !lenient {
			w.st.refusal = &Refusal{Rule: RuleParse, Reason: err.Error(), Fragment: shorten(src)}
		}
		return
	}
	if w.g.allow != nil {
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
	if w.depth+1 > maxDepth {
		w.refuse(c, RuleComplexity, fmt.Sprintf("shell code nested more than %d deep", maxDepth))
		return
	}
	child := &walker{g: w.g, st: w.st, src: src, depth: w.depth + 1, remote: w.remote, vars: w.vars, cwd: w.cwd}
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
func (w *walker) command(s *syntax.Stmt, pipeIn *values) {
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
			var v values
			if l.InPos.IsValid() || len(l.Items) > 0 {
				for _, item := range l.Items {
					w.words(item)
					v = w.union(v, w.fields(item, evalMode{}), maxVarAlts)
				}
			} else {
				v = unknownValue // for x; do: the positional parameters
			}
			w.assign(l.Name.Value, v)
		default:
			w.words(l)
		}
		w.stmts(c.Do)
	})
}

// funcDecl checks a function for a fork bomb and walks its body, which may
// run whether or not the code calls it.
func (w *walker) funcDecl(fd *syntax.FuncDecl) {
	for _, name := range funcNames(fd) {
		if selfSpawns(fd.Body, name.Value) {
			w.refuseAt(fd, RuleForkBomb, fmt.Sprintf("function %q calls itself in a pipeline, in the background or in a subshell", name.Value))
			return
		}
	}
	w.branch(func() { w.stmt(fd.Body) })
}

// words walks node for the code inside it: command and process
// substitutions, and any statement.
func (w *walker) words(node syntax.Node) {
	if node == nil || w.stopped() {
		return
	}
	if word, ok := node.(*syntax.Word); ok && word == nil {
		return
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
