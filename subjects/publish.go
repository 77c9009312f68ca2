package subjects

import (
	"errors"
	"fmt"
	"strings"
)

// MaxPublishLen bounds a subject that a message asks a node to publish to
// (a task's result or output subject). NATS itself has no subject limit,
// but a publish whose control line passes the server's max_control_line
// (4 KiB by default) makes the server close the publisher's connection.
const MaxPublishLen = 512

// ErrInvalidPublish is returned by ValidPublish, wrapped with why.
var ErrInvalidPublish = errors.New("invalid subject to publish to")

// ValidPublish reports whether s is a subject a node may publish to on a
// sender's behalf: 1 to MaxPublishLen bytes of printable ASCII, non-empty
// tokens separated by '.', and no wildcard token ('*' or '>').
func ValidPublish(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty", ErrInvalidPublish)
	}
	if len(s) > MaxPublishLen {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrInvalidPublish, len(s), MaxPublishLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("%w %q: byte %#x at %d is a space, control or non-ASCII byte", ErrInvalidPublish, s, c, i)
		}
	}
	for tok := range strings.SplitSeq(s, ".") {
		switch tok {
		case "":
			return fmt.Errorf("%w %q: empty token", ErrInvalidPublish, s)
		case "*", ">":
			return fmt.Errorf("%w %q: wildcard token %q", ErrInvalidPublish, s, tok)
		}
	}
	return nil
}
