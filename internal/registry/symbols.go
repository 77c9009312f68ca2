package registry

// Sym is an interned token (an OS or an architecture): a small number that
// compares in one instruction. NoSym is no token; OddSym stands for every
// token the table could not intern (the strings are compared instead).
type Sym uint8

// The special symbols.
const (
	NoSym  Sym = 0
	OddSym Sym = 255
)

// symbols interns tokens into small numbers, at most limit of them. Tokens
// come from heartbeats, so the table is bounded: once full, new tokens are
// not interned and their holders are marked odd.
type symbols struct {
	ids   map[string]int
	limit int
}

func newSymbols(limit int) symbols {
	return symbols{ids: map[string]int{}, limit: limit}
}

// lookup returns the number of s, if it has one.
func (s *symbols) lookup(name string) (int, bool) {
	i, ok := s.ids[name]
	return i, ok
}

// intern returns the number of s, giving it one if there is room.
func (s *symbols) intern(name string) (int, bool) {
	if i, ok := s.ids[name]; ok {
		return i, true
	}
	i := len(s.ids)
	if i >= s.limit {
		return 0, false
	}
	s.ids[name] = i
	return i, true
}

// CapSet is a set of capabilities as bits, one per interned capability.
type CapSet uint64

// MaxCapBits is how many distinct capabilities a table holds as bits (the
// detected ones are about 35); capabilities beyond them are compared as
// strings.
const MaxCapBits = 64

func (c *CapSet) add(bit int) { *c |= 1 << bit }
