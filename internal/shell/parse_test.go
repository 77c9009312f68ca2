package shell

import (
	"errors"
	"strings"
	"testing"

	"mvdan.cc/sh/v3/syntax"
)

func TestBound(t *testing.T) {
	ok := []string{"make -j8", strings.Repeat("(", MaxNesting) + strings.Repeat(")", MaxNesting), strings.Repeat("x", MaxCode)}
	for _, s := range ok {
		if err := Bound(s); err != nil {
			t.Errorf("Bound(%.20q...) = %v", s, err)
		}
	}
	bad := []string{strings.Repeat("(", MaxNesting+1), strings.Repeat("x", MaxCode+1), strings.Repeat("{[(", 100)}
	for _, s := range bad {
		if err := Bound(s); !errors.Is(err, ErrTooComplex) {
			t.Errorf("Bound(%.20q...) = %v, want ErrTooComplex", s, err)
		}
	}
}

// TestHostileNestingDoesNotCrash: this input overflows the parser's stack
// (a fatal error, not a panic) without the bound.
func TestHostileNestingDoesNotCrash(t *testing.T) {
	src := strings.Repeat("((", 80000) + strings.Repeat("))", 80000)
	if _, err := Parse(src, syntax.LangBash); !errors.Is(err, ErrTooComplex) {
		t.Fatalf("err = %v", err)
	}
}

func TestParse(t *testing.T) {
	if _, err := Parse("echo 'unterminated", syntax.LangBash); err == nil || errors.Is(err, ErrTooComplex) {
		t.Fatalf("err = %v", err)
	}
	f, err := Parse("a | b && c", syntax.LangBash)
	if err != nil || len(f.Stmts) != 1 {
		t.Fatalf("Parse = %v, %v", f, err)
	}
}
