package shell

import "strings"

// findNonFilters are find's primaries that do not narrow what it finds:
// with only these, find acts on everything under its starting points.
var findNonFilters = map[string]bool{
	"-depth": true, "-d": true, "-xdev": true, "-mount": true, "-maxdepth": true,
	"-mindepth": true, "-follow": true, "-noleaf": true, "-ignore_readdir_race": true,
	"-noignore_readdir_race": true, "-daystart": true, "-regextype": true, "-warn": true,
	"-nowarn": true, "-print": true, "-print0": true, "-printf": true, "-fprint": true,
	"-fprint0": true, "-fprintf": true, "-ls": true, "-fls": true, "-true": true,
	"-a": true, "-and": true, "-o": true, "-or": true, "-delete": true,
	"-exec": true, "-execdir": true, "-ok": true, "-okdir": true,
}

// FindCommand is what a find command line says.
type FindCommand struct {
	// Starts are the starting points ("." when none is given).
	Starts Values
	// Filtered is set when a test narrows what find acts on (-name, -type,
	// -newer ...): without one, it acts on everything under Starts.
	Filtered bool
	// Delete is set by -delete.
	Delete bool
	// Execs are the command lines of -exec, -execdir, -ok and -okdir,
	// without their terminating ";" or "+".
	Execs [][]*Arg
}

// Find reads the invocation's arguments as find's.
func (inv *Invocation) Find() FindCommand { return inv.w.findCommand(inv.Args) }

// findCommand reads args as find's command line.
func (w *walker) findCommand(args []*arg) FindCommand {
	i := 1
	for i < len(args) {
		s, _ := w.lit(args[i])
		switch {
		case s == "-H" || s == "-L" || s == "-P" || strings.HasPrefix(s, "-O"):
			i++
			continue
		case s == "-D":
			i += 2
			continue
		}
		break
	}
	var f FindCommand
	for ; i < len(args); i++ {
		s, ok := w.lit(args[i])
		if ok && (len(s) > 1 && s[0] == '-' || s == "(" || s == "!" || s == ",") {
			break
		}
		f.Starts = w.union(f.Starts, w.val(args[i]), maxAlts)
	}
	if len(f.Starts.Alts) == 0 && !f.Starts.Unknown {
		f.Starts = one(".")
	}
	expr := args[i:]
	for j := 0; j < len(expr); j++ {
		s, ok := w.lit(expr[j])
		if !ok {
			continue
		}
		switch s {
		case "-exec", "-execdir", "-ok", "-okdir":
			k := j + 1
			for k < len(expr) {
				if t, _ := w.lit(expr[k]); t == ";" || t == "+" {
					break
				}
				k++
			}
			f.Execs = append(f.Execs, expr[j+1:k])
			j = k
		case "-delete":
			f.Delete = true
		default:
			if strings.HasPrefix(s, "-") && !findNonFilters[s] {
				f.Filtered = true
			}
		}
	}
	return f
}

// find walks the commands find -exec runs. Where no test narrows the search,
// {} stands for every path found: the starting points.
func (w *walker) find(c *call, args []*arg) {
	f := w.findCommand(args)
	for _, sub := range f.Execs {
		sub = append([]*arg(nil), sub...)
		if !f.Filtered {
			for k, a := range sub {
				if s, _ := w.lit(a); s == "{}" {
					sub[k] = fixedArg(f.Starts)
				}
			}
		}
		w.invoke(c, sub)
		if w.stopped() {
			return
		}
	}
}
