package mcpserver

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fabric-run/fabric/internal/capture"
)

// bytesPerLine sets how many lines a budget shows at most: budget /
// bytesPerLine (256 lines for 16 KiB). Many short lines cost a model more
// than their bytes say, and read no better.
const bytesPerLine = 64

// clipped is a text cut to a byte budget.
type clipped struct {
	text  string // what to show
	lines int    // lines in the whole text
	// head and tail are the lines shown from each end when cut (a line cut
	// in the middle counts as shown).
	head, tail int
	cut        bool
}

// clip keeps text whole when it fits budget bytes and maxLines lines.
// Otherwise it keeps the whole lines of its head that fit half of each and
// those of its tail that fit the rest, around a marker line naming what was
// left out. A line
// longer than its share is cut at a character boundary, so one endless line
// still shows its start and its end.
func clip(text string, budget, maxLines int) clipped {
	lines := splitLines(text)
	n := len(lines)
	c := clipped{lines: n}
	maxLines = max(maxLines, 2)
	if len(text) <= budget && n <= maxLines {
		c.text, c.head = text, n
		return c
	}
	c.cut = true
	half := budget / 2
	used, h := 0, 0
	for h < n && h < maxLines/2 && used+len(lines[h])+1 <= half {
		used += len(lines[h]) + 1
		h++
	}
	headPart := ""
	if h == 0 {
		headPart = prefix(lines[0], half)
		used = len(headPart)
	}
	shownHead := h
	if headPart != "" {
		shownHead = 1
	}
	rest := budget - used
	tused, t := 0, 0
	for t < n-shownHead && t < maxLines-shownHead && tused+len(lines[n-1-t])+1 <= rest {
		tused += len(lines[n-1-t]) + 1
		t++
	}
	tailPart := ""
	if t == 0 && (n > shownHead || n == 1) {
		tailPart = suffix(lines[n-1], rest)
	}
	shownTail := t
	if tailPart != "" && n > 1 {
		shownTail = 1
	}

	var b strings.Builder
	b.Grow(budget + 128)
	for _, l := range lines[:h] {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if headPart != "" {
		b.WriteString(headPart)
		b.WriteString(" [...]\n")
	}
	hidden := n - shownHead - shownTail
	switch {
	case n == 1:
		fmt.Fprintf(&b, "[... fabric: %s of this one line not shown ...]\n", capture.Size(int64(len(text)-len(headPart)-len(tailPart))))
	case hidden > 0:
		fmt.Fprintf(&b, "[... fabric: lines %d-%d not shown (%s); task_output gets any slice ...]\n", shownHead+1, shownHead+hidden, plural(hidden, "line"))
	default:
		b.WriteString("[... fabric: long lines cut ...]\n")
	}
	if tailPart != "" {
		b.WriteString("[...] ")
		b.WriteString(tailPart)
		b.WriteByte('\n')
	}
	for _, l := range lines[n-t:] {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	c.text, c.head, c.tail = b.String(), shownHead, shownTail
	return c
}

// prefix returns at most n bytes of the start of s, cut at a character
// boundary.
func prefix(s string, n int) string {
	if n >= len(s) {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:max(n, 0)]
}

// suffix returns at most n bytes of the end of s, cut at a character
// boundary.
func suffix(s string, n int) string {
	if n >= len(s) {
		return s
	}
	if n <= 0 {
		return ""
	}
	i := len(s) - n
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return s[i:]
}

// controlSeq matches terminal control sequences: CSI (colours, cursor
// moves), OSC (titles, links) and two-byte escapes.
var controlSeq = regexp.MustCompile(`\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])`)

// tidy makes output readable as text: terminal control sequences go, and a
// line redrawn with carriage returns (progress bars) keeps its last state.
// Line count is unchanged, so task_output's line numbers still hold.
func tidy(text string) string {
	if !strings.ContainsAny(text, "\x1b\r") {
		return text
	}
	text = controlSeq.ReplaceAllString(text, "")
	if !strings.Contains(text, "\r") {
		return text
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		l = strings.TrimRight(l, "\r")
		if j := strings.LastIndexByte(l, '\r'); j >= 0 {
			l = l[j+1:]
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}

// splitLines splits text into lines, without a last empty one.
func splitLines(text string) []string {
	if text == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(text, "\n"), "\n")
}

// shares divides a byte budget and a line budget fairly among texts.
func shares(texts []string, budget, lineBudget int) (bytes, lines []int) {
	sizes, counts := make([]int, len(texts)), make([]int, len(texts))
	for i, t := range texts {
		sizes[i], counts[i] = len(t), strings.Count(t, "\n")+1
	}
	return fairShares(sizes, budget), fairShares(counts, lineBudget)
}

// fairShares divides budget among items of the given sizes: none gets more
// than it needs, and what a small one leaves goes to the others equally.
func fairShares(sizes []int, budget int) []int {
	shares := make([]int, len(sizes))
	order := make([]int, len(sizes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return sizes[a] - sizes[b] })
	left := budget
	for k, i := range order {
		fair := left / (len(order) - k)
		shares[i] = min(sizes[i], fair)
		left -= shares[i]
	}
	return shares
}

// sizeOf renders a byte count for people.
func sizeOf(n int64) string { return capture.Size(n) }

// seconds renders a budget for people: "45 s", "300 ms".
func seconds(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", d.Seconds()), "0"), ".") + " s"
}

// plural returns "1 line" or "3 lines".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
