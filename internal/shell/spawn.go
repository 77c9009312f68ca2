package shell

import "mvdan.cc/sh/v3/syntax"

// selfSpawns reports whether a function body calls the function name where
// the call gets a process of its own: in a pipeline, in the background, in a
// subshell or a command or process substitution. Each call then starts more
// of itself, without end: a fork bomb (:(){ :|:& };:). Plain recursion only
// deepens one shell's stack and is left alone, as are bombs through other
// functions (f calls g calls f): the check catches the accident and the
// classic, not every way to exhaust processes.
func selfSpawns(body *syntax.Stmt, name string) bool {
	found := false
	spawning := 0   // how many enclosing nodes give their code a process of its own
	var stack []int // what each open node added to spawning
	syntax.Walk(body, func(n syntax.Node) bool {
		if found {
			return false
		}
		if n == nil {
			spawning -= stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			return true
		}
		add := 0
		switch n := n.(type) {
		case *syntax.Stmt:
			if n.Background || n.Coprocess || n.Disown {
				add = 1
			}
		case *syntax.BinaryCmd:
			if n.Op == syntax.Pipe || n.Op == syntax.PipeAll {
				add = 1
			}
		case *syntax.Subshell, *syntax.CmdSubst, *syntax.ProcSubst:
			add = 1
		case *syntax.FuncDecl:
			return false // reported on its own; walking it here too is quadratic in nesting
		case *syntax.CallExpr:
			if spawning > 0 && len(n.Args) > 0 {
				if s, ok := staticLit(n.Args[0]); ok && s == name {
					found = true
					return false
				}
			}
		}
		spawning += add
		stack = append(stack, add)
		return true
	})
	return found
}
