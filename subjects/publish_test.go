package subjects

import (
	"errors"
	"strings"
	"testing"
)

func TestValidPublish(t *testing.T) {
	tests := []struct {
		name string
		s    string
		ok   bool
	}{
		{"kv result", "$KV.fabric-tasks.res.abc123", true},
		{"output", "fabric.output.abc123", true},
		{"inbox", "_INBOX.Zx9.y7", true},
		{"mixed case and symbols", "A.b-c_d.$e#f", true},
		{"longest", strings.Repeat("x", MaxPublishLen), true},
		{"empty", "", false},
		{"too long", strings.Repeat("x", MaxPublishLen+1), false},
		{"space", "a b", false},
		{"tab", "a\tb", false},
		{"newline", "a\r\nPUB x 1", false},
		{"non-ascii", "café", false},
		{"leading dot", ".a", false},
		{"trailing dot", "a.", false},
		{"empty token", "a..b", false},
		{"star", "a.*.b", false},
		{"gt", "a.>", false},
		{"star inside a token is a literal", "a.b*c", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidPublish(tt.s)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidPublish(%q) = %v, want ok %v", tt.s, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidPublish) {
				t.Fatalf("ValidPublish(%q) = %v, not ErrInvalidPublish", tt.s, err)
			}
		})
	}
}

// FuzzValidPublish: whatever ValidPublish accepts fits a NATS control line
// and is a literal subject: no whitespace, no empty or wildcard tokens.
func FuzzValidPublish(f *testing.F) {
	for _, s := range []string{"$KV.fabric-tasks.res.abc", "fabric.output.x", "a.>", "a b", "a..b", strings.Repeat("x.", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidPublish(s) != nil {
			return
		}
		if len(s) > MaxPublishLen || strings.ContainsAny(s, " \t\r\n") {
			t.Fatalf("accepted %q", s)
		}
		for _, tok := range strings.Split(s, ".") {
			if tok == "" || tok == "*" || tok == ">" {
				t.Fatalf("accepted %q with token %q", s, tok)
			}
		}
	})
}
