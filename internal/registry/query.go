package registry

import (
	"slices"

	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/subjects"
)

// Query is a requirement compiled against a table: what a row must have,
// as bits and symbols. Build it with Compile, after any change that might
// intern a new token.
type Query struct {
	caps CapSet
	os   Sym
	arch Sym
	node int // the row required; -1 for any, -2 for none
	// odd is set when some of the requirement needs strings to decide: a
	// token with no symbol (no row has it by bits, only rows odd in that
	// respect may, by their strings), or workers only.
	odd            bool
	oddOS, oddArch string
	oddCaps        []string
	workersOnly    bool
}

// Compile turns r into a Query over t. r is assumed normalised (the
// router's validate). The "any" capability matches every node. With
// workersOnly, SSH machines never match.
func (t *Table) Compile(r wire.Requirements, workersOnly bool) Query {
	q := Query{node: -1, workersOnly: workersOnly, odd: workersOnly}
	if r.OS != "" {
		if i, ok := t.oses.lookup(r.OS); ok {
			q.os = Sym(i + 1)
		} else {
			q.os, q.oddOS, q.odd = OddSym, r.OS, true
		}
	}
	if r.Arch != "" {
		if i, ok := t.arch.lookup(r.Arch); ok {
			q.arch = Sym(i + 1)
		} else {
			q.arch, q.oddArch, q.odd = OddSym, r.Arch, true
		}
	}
	for _, c := range r.Capabilities {
		if c == subjects.AnyCapability {
			continue
		}
		if bit, ok := t.caps.lookup(c); ok {
			q.caps.add(bit)
		} else {
			q.oddCaps, q.odd = append(q.oddCaps, c), true
		}
	}
	if r.Node != "" {
		if i, ok := t.index[r.Node]; ok {
			q.node = i
		} else {
			q.node = -2
		}
	}
	return q
}

// Match reports whether row i meets the query.
func (t *Table) Match(q *Query, i int) bool {
	return q.Bits(&t.rows[i], i) && (!q.odd || t.MatchOdd(q, i))
}

// Bits is the part of Match decided by bits and symbols; small enough to
// inline in a scan. Where it holds and q.Odd(), MatchOdd decides.
func (q *Query) Bits(row *Row, i int) bool {
	return row.Caps&q.caps == q.caps && (q.os == NoSym || row.OS == q.os) &&
		(q.arch == NoSym || row.Arch == q.arch) && (q.node == -1 || q.node == i)
}

// Odd reports whether the query has parts only strings can decide.
func (q *Query) Odd() bool { return q.odd }

// MatchOdd is the rest of Match for an odd query: the strings.
func (t *Table) MatchOdd(q *Query, i int) bool {
	row, n := &t.rows[i], &t.nodes[i]
	if q.workersOnly && n.Via != wire.ViaNATS {
		return false
	}
	if q.oddOS != "" && n.OS != q.oddOS {
		return false
	}
	if q.oddArch != "" && n.Arch != q.oddArch {
		return false
	}
	if len(q.oddCaps) > 0 {
		if !row.OddCaps {
			return false
		}
		for _, c := range q.oddCaps {
			if !slices.Contains(n.Capabilities, c) {
				return false
			}
		}
	}
	return true
}
