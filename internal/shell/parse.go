package shell

import (
	"errors"
	"fmt"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// Bounds on code given to the parser. No real command comes near them.
const (
	// MaxCode is the most bytes of shell code parsed at once.
	MaxCode = 64 << 10
	// MaxNesting is the deepest bracket nesting parsed.
	MaxNesting = 256
)

// ErrTooComplex is returned for code the parser is not given.
var ErrTooComplex = errors.New("shell code too complex to parse safely")

// Bound says why src must not be given to the parser (wrapping
// ErrTooComplex), or nil if it may. The parser recurses for every level of
// nesting, using up to a few kilobytes of stack per byte of input on some
// shapes ((((...)))), and a Go stack overflow is fatal, not a recoverable
// panic. So code longer than MaxCode, or whose brackets nest deeper than
// MaxNesting (counted over the raw bytes, quoted ones included), is refused.
func Bound(src string) error {
	if len(src) > MaxCode {
		return fmt.Errorf("%w: longer than %d bytes", ErrTooComplex, MaxCode)
	}
	depth := 0
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '(', '{', '[':
			depth++
			if depth > MaxNesting {
				return fmt.Errorf("%w: brackets nested more than %d deep", ErrTooComplex, MaxNesting)
			}
		case ')', '}', ']':
			depth = max(depth-1, 0)
		}
	}
	return nil
}

// Parse parses src in the given shell language after checking Bound.
func Parse(src string, lang syntax.LangVariant) (*syntax.File, error) {
	if err := Bound(src); err != nil {
		return nil, err
	}
	f, err := syntax.NewParser(syntax.Variant(lang)).Parse(strings.NewReader(src), "")
	if err != nil {
		return nil, fmt.Errorf("parse command: %w", err)
	}
	return f, nil
}
