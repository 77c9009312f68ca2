package mcpserver

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func numbered(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "line %04d\n", i)
	}
	return b.String()
}

func TestClip(t *testing.T) {
	tests := []struct {
		name       string
		text       string
		budget     int
		cut        bool
		head, tail int
		contains   []string
	}{
		{"fits", "a\nb\n", 100, false, 2, 0, []string{"a\nb\n"}},
		{"exact fit", "abc\n", 4, false, 1, 0, []string{"abc\n"}},
		{"head and tail, by lines", numbered(1000), 1280, true, 10, 10,
			[]string{"line 0001\n", "line 0010\n[... fabric: lines 11-990 not shown (980 lines)", "line 0991\n", "line 1000\n"}},
		{"head and tail, by bytes", strings.Repeat(strings.Repeat("x", 99)+"\n", 100), 1280, true, 6, 6,
			[]string{"not shown (88 lines)"}},
		{"few bytes, many lines", numbered(1000), 200, true, 1, 2, []string{"line 0001\n[... fabric: lines 2-998"}},
		{"one endless line", strings.Repeat("x", 10000), 100, true, 1, 0,
			[]string{strings.Repeat("x", 50) + " [...]\n", "of this one line not shown", "[...] " + strings.Repeat("x", 50) + "\n"}},
		{"long first and last lines", strings.Repeat("a", 500) + "\nmid\n" + strings.Repeat("z", 500) + "\n", 100, true, 1, 1,
			[]string{"aaaa [...]\n", "lines 2-2 not shown (1 line)", "[...] zzzz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clip(tt.text, tt.budget, tt.budget/bytesPerLine)
			if c.cut != tt.cut || c.head != tt.head || c.tail != tt.tail {
				t.Errorf("clip = cut %t head %d tail %d, want %t %d %d\n%s", c.cut, c.head, c.tail, tt.cut, tt.head, tt.tail, c.text)
			}
			for _, s := range tt.contains {
				if !strings.Contains(c.text, s) {
					t.Errorf("clip text lacks %q:\n%s", s, c.text)
				}
			}
			// The shown output stays within the budget plus the marker line.
			if len(c.text) > tt.budget+100 {
				t.Errorf("clip text is %d bytes for a budget of %d", len(c.text), tt.budget)
			}
		})
	}
}

func TestClipKeepsCharactersWhole(t *testing.T) {
	text := strings.Repeat("é", 5000) // two bytes each: a cut may fall inside one
	for budget := 50; budget < 60; budget++ {
		if c := clip(text, budget, 10); !utf8.ValidString(c.text) {
			t.Fatalf("clip(%d) cut a character: %q", budget, c.text)
		}
	}
}

func TestFairShares(t *testing.T) {
	tests := []struct {
		sizes  []int
		budget int
		want   []int
	}{
		{[]int{10, 10}, 100, []int{10, 10}},
		{[]int{1000, 10}, 100, []int{90, 10}},
		{[]int{1000, 1000}, 100, []int{50, 50}},
		{[]int{5, 1000, 40, 1000}, 100, []int{5, 32, 31, 32}},
		{[]int{5, 1000, 20, 1000}, 100, []int{5, 37, 20, 38}},
		{nil, 100, []int{}},
	}
	for _, tt := range tests {
		got := fairShares(tt.sizes, tt.budget)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("fairShares(%v, %d) = %v, want %v", tt.sizes, tt.budget, got, tt.want)
		}
	}
}

func TestCompactRanges(t *testing.T) {
	tests := []struct {
		in   []int
		want string
	}{
		{[]int{1}, "1"},
		{[]int{1, 2}, "1,2"},
		{[]int{1, 3, 4, 5, 6, 7}, "1,3-7"},
		{[]int{1, 2, 3, 5, 7, 8, 9, 20}, "1-3,5,7-9,20"},
	}
	for _, tt := range tests {
		if got := compactRanges(tt.in); got != tt.want {
			t.Errorf("compactRanges(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLineRange(t *testing.T) {
	tests := []struct {
		in       string
		from, to int
		ok       bool
	}{
		{`"10-40"`, 10, 40, true},
		{`"100-"`, 100, 0, true},
		{`"7"`, 7, 7, true},
		{`[10, 40]`, 10, 40, true},
		{`" 3 - 5 "`, 3, 5, true},
		{`"40-10"`, 0, 0, false},
		{`"0-5"`, 0, 0, false},
		{`"ten"`, 0, 0, false},
		{`[1, 2, 3]`, 0, 0, false},
	}
	for _, tt := range tests {
		var r lineRange
		err := json.Unmarshal([]byte(tt.in), &r)
		if (err == nil) != tt.ok || (tt.ok && (r.from != tt.from || r.to != tt.to)) {
			t.Errorf("range %s = %d-%d, %v; want %d-%d ok %t", tt.in, r.from, r.to, err, tt.from, tt.to, tt.ok)
		}
	}
}

func TestFlexArguments(t *testing.T) {
	var a bashArgs
	raw := `{"command":"make","timeout_seconds":"90","background":"true","requires_capabilities":"docker, gpu"}`
	var args map[string]any
	json.Unmarshal([]byte(raw), &args)
	req := callRequest(args)
	if err := bind(req, &a); err != nil {
		t.Fatal(err)
	}
	d, _ := a.TimeoutSeconds.duration("timeout_seconds")
	if a.Command != "make" || d.Seconds() != 90 || !a.Background || strings.Join(a.RequiresCapabilities, "|") != "docker|gpu" {
		t.Errorf("bind = %+v", a)
	}
	err := bind(callRequest(map[string]any{"command": "x", "timeout": 5}), &a)
	if err == nil || !strings.Contains(err.Error(), `unknown argument "timeout"`) || !strings.Contains(err.Error(), "timeout_seconds") {
		t.Errorf("unknown argument: %v", err)
	}
	err = bind(callRequest(map[string]any{"command": 5}), &a)
	if err == nil || !strings.Contains(err.Error(), "argument command: want a string") {
		t.Errorf("wrong type: %v", err)
	}
}

func TestTidy(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain\n", "plain\n"},
		{"\x1b[1;31merror\x1b[0m: bad\n", "error: bad\n"},
		{"\x1b]0;title\x07text\n", "text\n"},
		{"10%\r50%\r100%\ndone\r\n", "100%\ndone\n"},
		{"a\rb", "b"},
	}
	for _, tt := range tests {
		if got := tidy(tt.in); got != tt.want {
			t.Errorf("tidy(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
