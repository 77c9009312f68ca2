package shell

import (
	"cmp"
	"slices"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// Value is one value a shell word may take after expansion and quote removal.
type Value struct {
	S    string // the text; when Home is set, the text after the home directory
	Home bool   // the value starts with a home directory (~, ~user, $HOME)
}

// Display renders v for people: a home directory as "~".
func (v Value) Display() string {
	if v.Home {
		return "~" + v.S
	}
	return v.S
}

// Values is what a walk knows about the values of a word.
type Values struct {
	Alts     []Value // values the word may take
	Unknown  bool    // it may also take values the walk cannot see
	Overflow bool    // there were too many to list: Alts is incomplete
	// Unset names a variable the word starts with that is set neither by
	// the environment (Options.EnvKnown) nor by the command: the word may
	// start with its empty expansion ("$OUT"/* is /*).
	Unset string
}

// Literal returns the word's value when it has exactly one, fully known and
// not under a home directory.
func (v Values) Literal() (string, bool) {
	if len(v.Alts) != 1 || v.Unknown || v.Overflow || v.Alts[0].Home {
		return "", false
	}
	return v.Alts[0].S, true
}

// One returns the values of a word with the single known value s.
func One(s string) Values { return Values{Alts: []Value{{S: s}}} }

// one is One.
func one(s string) Values { return One(s) }

// unknownValue is a word the walk knows nothing about.
var unknownValue = Values{Unknown: true}

// placeholder stands, in the text of a script the walk parses again (the
// string of bash -c "...", a heredoc), for a part whose value it cannot see:
// an expansion of a variable nobody assigns, so the nested walk treats it as
// unknown too. It is short because it replaces parts as short as $X.
const placeholder = "${__unknown}"

// Bounds on the work one walk may do.
const (
	// MaxDepth is how many strings deep a walk parses shell code inside
	// shell code (bash -c "eval '...'"); deeper code is an error.
	MaxDepth = 8
	// WorkBudget is the bytes built plus bytes parsed one walk may spend.
	WorkBudget = 4 << 20

	maxAlts     = 64  // values listed for one word
	maxCodeAlts = 4   // values listed for one word that is shell code to parse again
	maxVarAlts  = 32  // values listed for one variable
	parseCost   = 512 // budget each parse costs besides its bytes
)

// union returns the values of a or b.
func (w *walker) union(a, b Values, limit int) Values {
	out := Values{Unknown: a.Unknown || b.Unknown, Overflow: a.Overflow || b.Overflow, Unset: cmp.Or(a.Unset, b.Unset)}
	out.Alts = make([]Value, 0, len(a.Alts)+len(b.Alts))
	for _, list := range [2][]Value{a.Alts, b.Alts} {
		for _, v := range list {
			if slices.Contains(out.Alts, v) {
				continue
			}
			if len(out.Alts) >= limit {
				out.Overflow = true
				break
			}
			out.Alts = append(out.Alts, v)
		}
	}
	w.spend(len(out.Alts))
	return out
}

// concat returns the values of a followed by b.
func (w *walker) concat(a, b Values) Values {
	bl := w.builder(evalMode{})
	bl.add(a)
	bl.add(b)
	return bl.values()
}

// builder builds the values of a word from its parts, in time linear in
// their length: each value is a buffer appended to in place, copied only when
// a part has several values and the number of values multiplies, which the
// caps let happen a few times at most.
type builder struct {
	w        *walker
	m        evalMode
	bufs     [][]byte
	home     []bool // bufs[i] starts with a home directory
	unknown  bool
	overflow bool
	unset    string // the Unset of the first part
	parts    int    // parts added
}

// builder returns a builder holding the single empty value.
func (w *walker) builder(m evalMode) *builder {
	return &builder{w: w, m: m, bufs: [][]byte{{}}, home: []bool{false}}
}

// add appends the values of the next part. A home directory counts only at
// the start of a word.
func (b *builder) add(v Values) {
	if b.parts == 0 {
		b.unset = v.Unset
	}
	b.parts++
	if v.Overflow && b.m.text {
		v = one(placeholder) // code to parse again: stand for it by an unknown
	}
	b.unknown = b.unknown || v.Unknown
	if v.Overflow {
		b.overflow, b.bufs, b.home = true, nil, nil
	}
	if len(b.bufs) == 0 {
		return // nothing known is left
	}
	if len(v.Alts) == 0 {
		b.bufs, b.home = nil, nil
		return
	}
	if n := len(b.bufs) * len(v.Alts); n > b.limit() {
		if b.m.text {
			b.add(one(placeholder)) // code to parse again: stand for it by an unknown
			return
		}
		b.overflow, b.bufs, b.home = true, nil, nil
		return
	}
	if len(v.Alts) == 1 {
		y := v.Alts[0]
		for i := range b.bufs {
			b.bufs[i], b.home[i] = b.append(b.bufs[i], b.home[i], y)
		}
		b.compact()
		return
	}
	bufs := make([][]byte, 0, len(b.bufs)*len(v.Alts))
	home := make([]bool, 0, cap(bufs))
	for i, x := range b.bufs {
		for _, y := range v.Alts {
			nb, nh := b.append(append([]byte(nil), x...), b.home[i], y)
			bufs, home = append(bufs, nb), append(home, nh)
		}
	}
	b.bufs, b.home = bufs, home
	b.compact()
}

// limit is the most values a word may take.
func (b *builder) limit() int {
	if b.m.text {
		return maxCodeAlts
	}
	return maxAlts
}

// append appends y to the value buf (home when h). A value that would have a
// home directory anywhere but at its start is dropped, returned as nil, and
// makes the word unknown.
func (b *builder) append(buf []byte, h bool, y Value) ([]byte, bool) {
	if y.Home {
		if len(buf) > 0 || h {
			b.unknown = true
			return nil, false
		}
		h = true
	}
	b.w.spend(len(y.S))
	out := append(buf, y.S...)
	if out == nil {
		out = []byte{} // empty, not dropped
	}
	return out, h
}

// compact removes the values append dropped.
func (b *builder) compact() {
	n := 0
	for i, buf := range b.bufs {
		if buf != nil {
			b.bufs[n], b.home[n] = buf, b.home[i]
			n++
		}
	}
	b.bufs, b.home = b.bufs[:n], b.home[:n]
}

// values returns what was built.
func (b *builder) values() Values {
	out := Values{Unknown: b.unknown, Overflow: b.overflow, Unset: b.unset}
	if len(b.bufs) > 0 {
		out.Alts = make([]Value, len(b.bufs))
		for i, buf := range b.bufs {
			out.Alts[i] = Value{S: string(buf), Home: b.home[i]}
		}
	}
	return out
}

// evalMode says how a word is evaluated.
type evalMode struct {
	text bool // parts the walk cannot see become placeholder: the word is shell code to parse again
}

// eval returns the values word may expand to, and records assignments made
// by ${X:=default}.
func (w *walker) eval(word *syntax.Word, m evalMode) Values {
	if word == nil {
		return one("")
	}
	if len(word.Parts) == 1 {
		if lit, ok := word.Parts[0].(*syntax.Lit); ok && !strings.ContainsAny(lit.Value, "\\~{") {
			return one(lit.Value)
		}
	}
	// Split brace expansions in a copy: SplitBraces rewrites the word it is
	// given, and the tree must keep valid positions for refusals' fragments.
	split := *word
	syntax.SplitBraces(&split)
	return w.evalParts(split.Parts, m, false, true)
}

// evalParts evaluates consecutive word parts; dq is set inside double quotes,
// start when the first part begins the word.
func (w *walker) evalParts(parts []syntax.WordPart, m evalMode, dq, start bool) Values {
	if len(parts) == 1 {
		return w.evalPart(parts[0], m, dq, start)
	}
	b := w.builder(m)
	for i, p := range parts {
		b.add(w.evalPart(p, m, dq, start && i == 0))
		if len(b.bufs) == 0 || w.stopped() {
			break // nothing known is left
		}
	}
	return b.values()
}

// evalPart evaluates one word part.
func (w *walker) evalPart(p syntax.WordPart, m evalMode, dq, start bool) Values {
	switch p := p.(type) {
	case *syntax.Lit:
		if dq {
			return one(unescapeDQ(p.Value))
		}
		if start && strings.HasPrefix(p.Value, "~") {
			return w.tilde(p.Value)
		}
		return one(unescape(p.Value))
	case *syntax.SglQuoted:
		if p.Dollar {
			return one(ansiC(p.Value))
		}
		return one(p.Value)
	case *syntax.DblQuoted:
		return w.evalParts(p.Parts, m, true, false)
	case *syntax.ParamExp:
		return w.param(p, m)
	case *syntax.ExtGlob:
		return one("*") // matches what the pattern matches, and more
	case *syntax.BraceExp:
		if p.Sequence {
			return one("*") // {1..9}, {a..z}: one short name, stood for by a glob
		}
		var out Values
		for _, e := range p.Elems {
			out = w.union(out, w.evalParts(e.Parts, m, dq, start), maxAlts)
		}
		return out
	}
	// Command, arithmetic and process substitutions, and anything newer.
	return w.unknown(m)
}

// unknown is a part whose value the walk cannot see.
func (w *walker) unknown(m evalMode) Values {
	if m.text {
		return one(placeholder)
	}
	return unknownValue
}

// tilde evaluates an unquoted literal starting with '~'.
func (w *walker) tilde(lit string) Values {
	prefix, rest, slash := strings.Cut(lit, "/")
	if slash {
		rest = "/" + rest
	}
	user := prefix[1:]
	switch {
	case user == "":
		return w.concat(w.home(), one(unescape(rest)))
	case strings.HasPrefix(user, "+") || strings.HasPrefix(user, "-"):
		return unknownValue // $PWD, $OLDPWD, the directory stack
	case strings.ContainsAny(user, "\\$`\"'*?["):
		return one(unescape(lit)) // not a tilde-prefix: taken literally
	}
	return Values{Alts: []Value{{S: unescape(rest), Home: true}}} // ~user: another home
}

// home returns the values of the current user's home directory: $HOME as
// assigned in the command, or the home directory.
func (w *walker) home() Values {
	if v, ok := w.vars["HOME"]; ok {
		return w.union(v, Values{Alts: []Value{{Home: true}}}, maxVarAlts)
	}
	return Values{Alts: []Value{{Home: true}}}
}

// param evaluates a parameter expansion.
func (w *walker) param(p *syntax.ParamExp, m evalMode) Values {
	if p.Param == nil || p.Excl || p.Length || p.Width || p.IsSet || p.Flags != nil ||
		p.NestedParam != nil || p.Slice != nil || p.Repl != nil || p.Names != 0 || len(p.Modifiers) > 0 {
		return w.unknown(m)
	}
	name := p.Param.Value
	base := w.variable(name, m)
	if p.Exp == nil {
		return base
	}
	base.Unset = "" // each operator says what an unset variable gives
	switch p.Exp.Op {
	case syntax.DefaultUnset, syntax.DefaultUnsetOrNull:
		return w.union(base, w.eval(p.Exp.Word, m), maxAlts)
	case syntax.AssignUnset, syntax.AssignUnsetOrNull:
		def := w.eval(p.Exp.Word, m)
		w.assign(name, def)
		return w.union(base, def, maxAlts)
	case syntax.AlternateUnset, syntax.AlternateUnsetOrNull:
		return w.union(w.eval(p.Exp.Word, m), one(""), maxAlts)
	case syntax.ErrorUnset, syntax.ErrorUnsetOrNull:
		return base
	}
	return w.unknown(m) // ${X#pat}, ${X^^} and the like
}

// variable returns the values of the variable name: as the command assigns
// it, else as the environment defines it (not for code run elsewhere).
func (w *walker) variable(name string, m evalMode) Values {
	if v, ok := w.vars[name]; ok {
		return v
	}
	if name == "HOME" {
		return w.home()
	}
	if w.remote {
		return w.unknown(m)
	}
	o := &w.st.opts
	if o.Env != nil {
		if v, ok := o.Env(name); ok {
			return one(v)
		}
	}
	if !o.EnvKnown || !isName(name) || shellSet[name] {
		return w.unknown(m)
	}
	if m.text {
		// Code to parse again: the nested walk sees the same unset
		// variable.
		return one("${" + name + "}")
	}
	return Values{Unknown: true, Unset: name}
}

// isName reports whether s is a variable name (not a positional or special
// parameter).
func isName(s string) bool {
	return s != "" && !(s[0] >= '0' && s[0] <= '9') && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) < 0
}

// shellSet are the variables bash sets itself, whatever the environment.
var shellSet = set("BASH", "BASHOPTS", "BASHPID", "BASH_ALIASES", "BASH_ARGC", "BASH_ARGV", "BASH_ARGV0",
	"BASH_CMDS", "BASH_COMMAND", "BASH_LINENO", "BASH_SOURCE", "BASH_SUBSHELL", "BASH_VERSINFO",
	"BASH_VERSION", "COLUMNS", "DIRSTACK", "EPOCHREALTIME", "EPOCHSECONDS", "EUID", "FUNCNAME", "GROUPS",
	"HISTCMD", "HISTFILE", "HISTFILESIZE", "HISTSIZE", "HOSTNAME", "HOSTTYPE", "IFS", "LINENO", "LINES",
	"MACHTYPE", "MAILCHECK", "OLDPWD", "OPTERR", "OPTIND", "OSTYPE", "PATH", "PIPESTATUS", "PPID", "PS1",
	"PS2", "PS4", "PWD", "RANDOM", "REPLY", "SECONDS", "SHELL", "SHELLOPTS", "SHLVL", "SRANDOM", "TERM", "UID")

// assign records that variable name may hold v. Values accumulate: the walk
// does not follow which branch runs, so every assignment counts.
func (w *walker) assign(name string, v Values) {
	old, ok := w.vars[name]
	if !ok {
		// Assigned only on some paths, it may keep its value from the
		// environment.
		if w.cond > 0 {
			old = w.variable(name, evalMode{})
		}
		w.vars[name] = w.union(old, v, maxVarAlts)
		return
	}
	w.vars[name] = w.union(old, v, maxVarAlts)
}

// assignLoop records the values of a for loop's variable: set whenever the
// body runs, so never unset there.
func (w *walker) assignLoop(name string, v Values) {
	if _, ok := w.vars[name]; !ok {
		old := w.variable(name, evalMode{})
		old.Unset = ""
		w.vars[name] = old
	}
	w.assign(name, v)
}

// assignNode records an assignment node (x=1, arr=(a b), local x=1).
func (w *walker) assignNode(a *syntax.Assign) {
	if a.Name == nil || (a.Naked && a.Value == nil && a.Array == nil) {
		return
	}
	if a.Array != nil {
		// Each element is a value, and so are all of them joined: the
		// whole array used as a command line ("${cmd[@]}" /).
		var v Values
		joined, known := make([]string, 0, len(a.Array.Elems)), true
		for _, e := range a.Array.Elems {
			f := w.fields(e.Value, evalMode{})
			v = w.union(v, f, maxVarAlts)
			s, ok := f.Literal()
			joined, known = append(joined, s), known && ok
		}
		if known && len(joined) > 1 {
			v = w.union(v, one(strings.Join(joined, " ")), maxVarAlts)
		}
		w.assign(a.Name.Value, v)
		return
	}
	w.assign(a.Name.Value, w.eval(a.Value, evalMode{}))
}

// fields returns the values of a word as the shell would pass them as
// arguments: unquoted expansions split at whitespace, and each field counts
// as a value too (rm -rf $T with T="/ /tmp" deletes "/").
func (w *walker) fields(word *syntax.Word, m evalMode) Values {
	v := w.eval(word, m)
	if word == nil || !unquotedExpansion(word) {
		return v
	}
	var extra Values
	for _, a := range v.Alts {
		if !strings.ContainsAny(a.S, " \t\n") {
			continue
		}
		for i, f := range strings.Fields(a.S) {
			extra.Alts = append(extra.Alts, Value{S: f, Home: a.Home && i == 0})
		}
	}
	if len(extra.Alts) == 0 {
		return v
	}
	return w.union(v, extra, maxAlts)
}

// expandsToWords reports whether word may expand to several words: an
// unquoted expansion, or a whole array ("${a[@]}").
func expandsToWords(word *syntax.Word) bool {
	if unquotedExpansion(word) {
		return true
	}
	for _, p := range word.Parts {
		if q, ok := p.(*syntax.DblQuoted); ok {
			for _, p := range q.Parts {
				if wholeArray(p) {
					return true
				}
			}
		}
		if wholeArray(p) {
			return true
		}
	}
	return false
}

// wholeArray reports whether p is ${a[@]} or ${a[*]}.
func wholeArray(p syntax.WordPart) bool {
	pe, ok := p.(*syntax.ParamExp)
	if !ok || pe.Index == nil {
		return false
	}
	i, ok := pe.Index.(*syntax.Word)
	return ok && (i.Lit() == "@" || i.Lit() == "*")
}

// unquotedExpansion reports whether word has a parameter expansion or a
// command substitution outside quotes, whose value the shell splits.
func unquotedExpansion(word *syntax.Word) bool {
	for _, p := range word.Parts {
		switch p.(type) {
		case *syntax.ParamExp, *syntax.CmdSubst:
			return true
		}
	}
	return false
}

// staticLit returns the value of a word made only of literal parts and
// quotes, with no expansion at all.
func staticLit(word *syntax.Word) (string, bool) {
	var b strings.Builder
	for _, p := range word.Parts {
		switch p := p.(type) {
		case *syntax.Lit:
			if strings.ContainsAny(p.Value, "~{*?[") {
				return "", false
			}
			b.WriteString(unescape(p.Value))
		case *syntax.SglQuoted:
			if p.Dollar {
				b.WriteString(ansiC(p.Value))
			} else {
				b.WriteString(p.Value)
			}
		case *syntax.DblQuoted:
			for _, q := range p.Parts {
				lit, ok := q.(*syntax.Lit)
				if !ok {
					return "", false
				}
				b.WriteString(unescapeDQ(lit.Value))
			}
		default:
			return "", false
		}
	}
	return b.String(), true
}
