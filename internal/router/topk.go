package router

import (
	"slices"

	"github.com/fabric-run/fabric/internal/registry"
)

// pick is a node (by row) and its score; rank orders their ids.
type pick struct {
	i     int
	score float64
	rank  int32
}

// topK keeps the MaxOrder best picks seen, best first: lower score, then
// lower id (rank). Offering a pick worse than the worst kept costs one
// compare.
type topK struct {
	best [MaxOrder + 1]pick
	n    int
}

func (t *topK) less(a, b pick) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	return a.rank < b.rank
}

func (t *topK) offer(p pick) {
	if t.n == MaxOrder && !t.less(p, t.best[t.n-1]) {
		return
	}
	j := t.n
	for j > 0 && t.less(p, t.best[j-1]) {
		t.best[j] = t.best[j-1]
		j--
	}
	t.best[j] = p
	if t.n < MaxOrder {
		t.n++
	}
}

// order returns the kept nodes, best first, plus local (if it is a
// pick, i >= 0) when it was not kept: it may be preferred whatever its rank.
func (t *topK) order(local pick, at func(i int) registry.Node) []registry.Node {
	picks := t.best[:t.n]
	extra := 0
	if local.i >= 0 && !slices.Contains(picks, local) {
		extra = 1
	}
	out := make([]registry.Node, 0, t.n+extra)
	for _, p := range picks {
		out = append(out, at(p.i))
	}
	if extra == 1 {
		out = append(out, at(local.i))
	}
	return out
}
