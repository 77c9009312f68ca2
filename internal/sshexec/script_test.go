package sshexec

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/wire"
)

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"plain", "plain"},
		{"/usr/bin/bash", "/usr/bin/bash"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$HOME", "'$HOME'"},
		{"'", `''\'''`},
		{"line\nbreak", "'line\nbreak'"},
	}
	for _, tt := range tests {
		if got := quote(tt.in); got != tt.want {
			t.Errorf("quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestQuoteRoundTrip reads quoted words back through sh, locally: what the
// remote sh does with them.
func TestQuoteRoundTrip(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	words := append([]string{"\xff\xfe not UTF-8"}, awkward...)
	var script strings.Builder
	script.WriteString("printf '%s\\0'")
	for _, w := range words {
		script.WriteString(" " + quote(w))
	}
	out, err := exec.Command("sh", "-c", script.String()).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(got) != len(words) {
		t.Fatalf("sh read %d words, want %d: %q", len(got), len(words), got)
	}
	for i := range words {
		if got[i] != words[i] {
			t.Errorf("word %d: sh read %q, want %q", i, got[i], words[i])
		}
	}
}

// TestProgramIsOneGroup checks that every remote program parses, and that a
// program cut anywhere does not: sh parses the { ... } group whole, so a
// program truncated in transit runs nothing.
func TestProgramIsOneGroup(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	progs := []*program{
		{nonce: "n1", shell: "/bin/bash", command: "echo hi", timeout: time.Second},
		{nonce: "n2", argv: []string{"printf", "%s", "it's"}, cwd: "/tmp", env: map[string]string{"A": "x y", "B": "'"}},
	}
	for _, p := range progs {
		src := p.String()
		if err := exec.Command("sh", "-n", "-c", src).Run(); err != nil {
			t.Errorf("program does not parse: %v\n%s", err, src)
		}
		for _, cut := range []int{len(src) / 3, len(src) / 2, len(src) - 3} {
			if err := exec.Command("sh", "-n", "-c", src[:cut]).Run(); err == nil {
				t.Errorf("program cut at %d of %d bytes still parses:\n%s", cut, len(src), src[:cut])
			}
		}
	}
}

func TestWatchdogSeconds(t *testing.T) {
	tests := []struct {
		timeout time.Duration
		want    int
	}{{0, 0}, {time.Second, 6}, {1500 * time.Millisecond, 7}, {5 * time.Minute, 305}}
	for _, tt := range tests {
		if got := watchdogSeconds(tt.timeout); got != tt.want {
			t.Errorf("watchdogSeconds(%v) = %d, want %d", tt.timeout, got, tt.want)
		}
	}
}

func TestRunOutputControlLine(t *testing.T) {
	const marker = "fabric-abc "
	tests := []struct {
		name     string
		writes   []string
		pgid     int
		fail     string
		stderr   string
		streamed string
	}{
		{"alone", []string{"fabric-abc pid 42\n"}, 42, "", "", ""},
		{"then output", []string{"fabric-abc pid 42\nerr 1\n"}, 42, "", "err 1\n", "err 1\n"},
		{"split across writes", []string{"fab", "ric-a", "bc pid 4", "2\nrest"}, 42, "", "rest", "rest"},
		{"after login chatter", []string{"motd line\nfabric-abc pid 7\nx"}, 7, "", "motd line\nx", "motd line\nx"},
		{"chatter split from it", []string{"motd\nfabric-", "abc pid 7\n"}, 7, "", "motd\n", "motd\n"},
		{"not at a line start", []string{"say fabric-abc pid 9\n"}, 0, "", "say fabric-abc pid 9\n", "say fabric-abc pid 9\n"},
		{"start failure", []string{"fabric-abc fail cwd-missing\n"}, 0, "cwd-missing", "", ""},
		{"never came", []string{"only chatter\n", "more"}, 0, "", "only chatter\nmore", "only chatter\nmore"},
		{"another nonce", []string{"fabric-xyz pid 5\n"}, 0, "", "fabric-xyz pid 5\n", "fabric-xyz pid 5\n"},
	}
	for _, tt := range tests {
		var streamed strings.Builder
		o := newRunOutput(marker, 1<<10, func(s wire.Stream, p []byte) {
			if s == wire.Stderr {
				streamed.Write(p)
			}
		})
		w := streamWriter{o, wire.Stderr}
		for _, s := range tt.writes {
			w.Write([]byte(s))
		}
		o.finish()
		pgid, fail := o.state()
		var res wire.Result
		o.fill(&res)
		if pgid != tt.pgid || fail != tt.fail || res.Stderr != tt.stderr || streamed.String() != tt.streamed ||
			res.StderrBytes != int64(len(tt.stderr)) {
			t.Errorf("%s: pgid %d, fail %q, stderr %q (%d bytes), streamed %q; want %d, %q, %q, %q",
				tt.name, pgid, fail, res.Stderr, res.StderrBytes, streamed.String(), tt.pgid, tt.fail, tt.stderr, tt.streamed)
		}
	}
}

// awkward are arguments that a careless quoting would mangle or execute.
var awkward = []string{
	"it's", `"double"`, "$HOME", "${PATH}", "`id`", "$(touch PWNED)", "; touch PWNED",
	"a b  c", "line\nbreak", "tab\there", `back\slash`, `\'`, "'", "''", "*", "~", "-n", "--", "",
	"!event", "#comment", "&", "|", "<>", "ünïcødé ✓", "\x01\x1b[31m",
}
