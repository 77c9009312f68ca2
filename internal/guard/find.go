package guard

import (
	"fmt"
	"strings"
)

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

// find judges the commands find -exec runs, as invoked programs, and refuses
// find deleting everything under a protected directory: -delete, or -exec with
// {} standing for every path found, when no test narrows the search.
func (w *walker) find(c *call, args []*arg) {
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
	var starts values
	for ; i < len(args); i++ {
		s, ok := w.lit(args[i])
		if ok && (len(s) > 1 && s[0] == '-' || s == "(" || s == "!" || s == ",") {
			break
		}
		starts = w.union(starts, w.val(args[i]), maxAlts)
	}
	if len(starts.alts) == 0 && !starts.unknown {
		starts = one(".")
	}
	expr := args[i:]
	filtered, del := false, false
	var execs [][]*arg
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
			execs = append(execs, expr[j+1:k])
			j = k
		case "-delete":
			del = true
		default:
			if strings.HasPrefix(s, "-") && !findNonFilters[s] {
				filtered = true
			}
		}
	}
	if del && !filtered {
		if p, ok := w.protectedPath(starts); ok {
			w.refuse(c, RuleRmRoot, fmt.Sprintf("find -delete of everything under %q", p.display()))
			return
		}
	}
	for _, sub := range execs {
		sub = append([]*arg(nil), sub...)
		if !filtered {
			for k, a := range sub {
				if s, _ := w.lit(a); s == "{}" {
					v := starts
					sub[k] = &arg{fixed: &v}
				}
			}
		}
		w.invoke(c, sub)
		if w.stopped() {
			return
		}
	}
}
