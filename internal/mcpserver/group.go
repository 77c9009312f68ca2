package mcpserver

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// member is one command's outcome as grouping sees it.
type member struct {
	number  int    // from 1
	node    string // "" if it ran nowhere
	outcome string // "exit 0", "still running", "no_match: ..."
	stdout  string
	stderr  string
	// the stream totals, for the group's view
	stdoutBytes, stderrBytes int64
	stdoutPart, stderrPart   bool
}

// group is the commands whose outcome and output are identical, as dshbak
// and clush -b group the nodes that printed the same.
type group struct {
	members []member
}

func (g *group) numbers() []int {
	out := make([]int, len(g.members))
	for i, m := range g.members {
		out[i] = m.number
	}
	return out
}

func (g *group) nodes() []string {
	var out []string
	for _, m := range g.members {
		if m.node != "" && !slices.Contains(out, m.node) {
			out = append(out, m.node)
		}
	}
	slices.Sort(out)
	return nonNil(out)
}

// label is a group's header, as dshbak writes it: "commands 1,3,4-7
// (nodes a, b): exit 0".
func (g *GroupView) label() string {
	word := "commands"
	if len(g.Numbers) == 1 {
		word = "command"
	}
	s := word + " " + g.Commands
	switch len(g.Nodes) {
	case 0:
	case 1:
		s += " (node " + g.Nodes[0] + ")"
	default:
		s += " (nodes " + strings.Join(g.Nodes, ", ") + ")"
	}
	return s + ": " + g.Outcome
}

// groupMembers groups identical outcomes, in order of first appearance.
func groupMembers(ms []member) []*group {
	type key struct{ outcome, stdout, stderr string }
	var out []*group
	index := map[key]*group{}
	for _, m := range ms {
		k := key{m.outcome, m.stdout, m.stderr}
		g, ok := index[k]
		if !ok {
			g = &group{}
			index[k] = g
			out = append(out, g)
		}
		g.members = append(g.members, m)
	}
	return out
}

// compactRanges writes sorted numbers compactly: 1,3,4-7.
func compactRanges(nums []int) string {
	var b strings.Builder
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(nums[i]))
		switch {
		case j == i+1:
			fmt.Fprintf(&b, ",%d", nums[j])
		case j > i+1:
			fmt.Fprintf(&b, "-%d", nums[j])
		}
		i = j + 1
	}
	return b.String()
}
