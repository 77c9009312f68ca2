package shell

import (
	"errors"
	"fmt"

	"mvdan.cc/sh/v3/syntax"
)

// ErrParse is what a walk's *Error unwraps to when the shell would not
// accept the code.
var ErrParse = errors.New("shell code does not parse")

// Error ends a walk that could not finish: the code does not parse, or is
// past one of the walk's bounds.
type Error struct {
	Err      error  // ErrParse or ErrTooComplex
	Reason   string // what is wrong, for people
	Fragment string // the code concerned, whole; may be empty
}

// Error reads: shell code does not parse: 1:6: reached EOF without closing quote `"`.
func (e *Error) Error() string { return fmt.Sprintf("%v: %s", e.Err, e.Reason) }

// Unwrap returns ErrParse or ErrTooComplex.
func (e *Error) Unwrap() error { return e.Err }

// Options say what a walk tracks besides what every walk does.
type Options struct {
	// Funcs marks the invocations of functions the code itself defines
	// (Invocation.Func).
	Funcs bool
	// Cwd is the working directory the command starts in, when known: an
	// absolute path, or one under the home directory (Home set). Nil means
	// unknown: relative paths resolve to nothing until the command cd's.
	Cwd *Value
	// Env looks up the variables of the environment the command runs with
	// (nil: none known). A variable it defines has that value unless the
	// command assigns it; HOME is always the home directory (Value.Home).
	Env func(name string) (string, bool)
	// EnvKnown says Env is the whole environment: a variable it does not
	// define, that bash does not set itself and that the command does not
	// assign is unset, and a word starting with it says so (Values.Unset).
	EnvKnown bool
	// Rules reports whether the visitor has something to say about the
	// program name. A container's command line (docker run IMAGE ...) is
	// searched for such names, and for wrappers, shells, eval and find: each
	// found starts a remote invocation. Nil means none besides those.
	Rules func(name string) bool
}

// Visitor receives what a walk finds, in the order the shell would meet it.
// The events are valid only during the call. An error a method returns ends
// the walk and is returned by it.
type Visitor interface {
	// Invoke is called for every program the command runs, before the walk
	// looks into what that program runs in turn (a wrapper's program, a
	// shell's code, find -exec).
	Invoke(*Invocation) error
	// Write is called for every redirection that writes to a path.
	Write(*Write) error
	// Func is called for every function the code defines.
	Func(*Func) error
}

// site is where an event happens: its code and its working directory.
type site struct {
	w    *walker
	node syntax.Node // the code; nil in argv mode
	frag string      // the code in argv mode
}

// Fragment returns the code of the event: the command, the statement with
// the redirection, the function definition.
func (s *site) Fragment() string {
	if s.node != nil {
		return s.w.text(s.node)
	}
	return s.frag
}

// Resolve returns the absolute (or home-relative) paths v may name, given
// the working directory where the event happens; none when v is relative and
// the directory unknown.
func (s *site) Resolve(v Value) []Value { return s.w.resolve(v) }

// Invocation is one program a command runs.
type Invocation struct {
	// Name is the program's base name (/usr/bin/make is "make"), or "" when
	// the walk cannot see it ($CMD -rf /): then the invocation stands for
	// whatever program that is.
	Name string
	// Args are the words of the command line, Args[0] the program's own.
	Args []*Arg
	// Remote is set when the program runs in a container or on another
	// host (docker run, kubectl exec, ssh), not where the command runs.
	Remote bool
	// Wrapper is set when the program runs another one given by its
	// arguments (sudo, env, xargs ...), which the walk yields next.
	Wrapper bool
	// Func is set, with Options.Funcs, when Name is a function the code
	// defines.
	Func bool
	site
}

// Arg is one argument of an invocation.
type Arg = arg

// Value returns the values a, one of the invocation's Args, may take as the
// program receives it: after expansion, word splitting and quote removal.
func (inv *Invocation) Value(a *Arg) Values { return inv.w.val(a) }

// Lit returns a's value when it is a single known literal.
func (inv *Invocation) Lit(a *Arg) (string, bool) { return inv.w.lit(a) }

// SkipOptions returns the index of the first operand among the invocation's
// Args at or after i. Options end at "--" (skipped), at a word not starting
// with '-', and at a word the walk cannot see. value lists the short options
// that take a value, long the long ones.
func (inv *Invocation) SkipOptions(i int, value string, long ...string) int {
	return inv.w.skipOptions(inv.Args, i, value, long...)
}

// Write is a redirection that writes to a path: >, >>, &>, <>, >& path.
type Write struct {
	// Target is what the path may be, as written (see Resolve).
	Target Values
	site
}

// Func is a function the code defines.
type Func struct {
	decl *syntax.FuncDecl
	site
}

// SelfSpawning returns the name of the function when its body calls itself
// where the call gets a process of its own: in a pipeline, in the
// background, in a subshell or a command or process substitution. Each call
// then starts more of itself, without end: a fork bomb (:(){ :|:& };:).
// Plain recursion only deepens one shell's stack and is not reported, nor
// are bombs through other functions (f calls g calls f).
func (f *Func) SelfSpawning() (string, bool) {
	for _, name := range funcNames(f.decl) {
		if selfSpawns(f.decl.Body, name.Value) {
			return name.Value, true
		}
	}
	return "", false
}

// Walk parses command as bash would and reports to v what it does. It
// returns the error v returned, or an *Error when the command does not parse
// or is past the walk's bounds, or nil. An empty command, or one of only
// comments, does nothing.
func Walk(command string, opts Options, v Visitor) error {
	w := newWalker(command, opts, v)
	w.run(command, langBash, nil, false)
	return w.st.err
}

// WalkArgv reports to v what a command given as an argument vector does, run
// without a shell: argv[0] is the program. Words are taken literally (no ~
// or $VAR expansion happens without a shell); strings handed to a shell
// (bash -c ...) are parsed and walked. The fragment of its events is argv
// quoted for a shell (Join).
func WalkArgv(argv []string, opts Options, v Visitor) error {
	if len(argv) == 0 {
		return nil
	}
	w := newWalker("", opts, v)
	args := make([]*arg, len(argv))
	block := make([]arg, len(argv))
	vals := make([]Value, len(argv))
	for i, s := range argv {
		vals[i].S = s
		block[i] = arg{vals: Values{Alts: vals[i : i+1 : i+1]}, hasVals: true}
		args[i] = &block[i]
	}
	w.invoke(&call{args: args, frag: Join(argv)}, args)
	return w.st.err
}

// visit ends the walk with err, the answer of the visitor, if not nil.
func (w *walker) visit(err error) {
	if err != nil {
		w.fail(err)
	}
}
