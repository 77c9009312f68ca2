package wire

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// errUnusual is what the fast decoders return for anything they do not
// read themselves (an unusual but perhaps valid encoding, or a malformed
// one): the caller then decodes with the generic msgpack decoder, which
// defines the semantics and the error.
var errUnusual = errors.New("unusual msgpack")

// maxSkipDepth bounds the nesting of values: fabric's messages nest three
// deep at most.
const maxSkipDepth = 32

// mpReader reads msgpack from a byte slice without allocating. It reads the
// encodings msgpack/v5 produces for fabric's messages plus the other plain
// forms of the same types; anything else is errUnusual.
type mpReader struct {
	b   []byte
	off int
}

func (r *mpReader) next() (byte, bool) {
	if r.off >= len(r.b) {
		return 0, false
	}
	c := r.b[r.off]
	r.off++
	return c, true
}

func (r *mpReader) take(n int) ([]byte, bool) {
	if n < 0 || n > len(r.b)-r.off {
		return nil, false
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p, true
}

func (r *mpReader) uint(n int) (uint64, bool) {
	p, ok := r.take(n)
	if !ok {
		return 0, false
	}
	switch n {
	case 1:
		return uint64(p[0]), true
	case 2:
		return uint64(binary.BigEndian.Uint16(p)), true
	case 4:
		return uint64(binary.BigEndian.Uint32(p)), true
	}
	return binary.BigEndian.Uint64(p), true
}

// mapLen reads a map header; nil is -1.
func (r *mpReader) mapLen() (int, error) { return r.headerLen(0x80, 0xde) }

// arrayLen reads an array header; nil is -1.
func (r *mpReader) arrayLen() (int, error) { return r.headerLen(0x90, 0xdc) }

// headerLen reads a map or array header: fix is the first of its sixteen
// fixed-size codes, wide the code of its 16-bit form (the 32-bit form is
// wide+1). nil is -1.
func (r *mpReader) headerLen(fix, wide byte) (int, error) {
	c, ok := r.next()
	switch {
	case !ok:
		return 0, errUnusual
	case c == 0xc0:
		return -1, nil
	case c >= fix && c <= fix+0x0f:
		return int(c & 0x0f), nil
	case c == wide || c == wide+1:
		n, ok := r.uint(2 << (c - wide))
		if !ok || n > uint64(len(r.b)) {
			return 0, errUnusual
		}
		return int(n), nil
	}
	return 0, errUnusual
}

// bytes reads a str or bin value without copying; nil is (nil, true).
func (r *mpReader) bytes() ([]byte, bool, error) {
	c, ok := r.next()
	if !ok {
		return nil, false, errUnusual
	}
	n := 0
	switch {
	case c == 0xc0:
		return nil, true, nil
	case c >= 0xa0 && c <= 0xbf:
		n = int(c & 0x1f)
	case c == 0xd9 || c == 0xc4:
		v, ok := r.uint(1)
		if !ok {
			return nil, false, errUnusual
		}
		n = int(v)
	case c == 0xda || c == 0xc5:
		v, ok := r.uint(2)
		if !ok {
			return nil, false, errUnusual
		}
		n = int(v)
	case c == 0xdb || c == 0xc6:
		v, ok := r.uint(4)
		if !ok {
			return nil, false, errUnusual
		}
		n = int(v)
	default:
		return nil, false, errUnusual
	}
	p, ok := r.take(n)
	if !ok {
		return nil, false, errUnusual
	}
	return p, false, nil
}

// str reads a string, keeping old (no allocation) when it is the same.
func (r *mpReader) str(old string) (string, error) {
	p, _, err := r.bytes()
	if err != nil {
		return "", err
	}
	if string(p) == old {
		return old, nil
	}
	return string(p), nil
}

// strs reads an array of strings. When it equals old, old is returned;
// otherwise a new slice: old's backing array is never written, so a slice
// shared with readers stays valid.
func (r *mpReader) strs(old []string) ([]string, error) {
	n, err := r.arrayLen()
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, nil
	}
	if n == 0 {
		if old != nil && len(old) == 0 {
			return old, nil
		}
		return []string{}, nil
	}
	start := r.off
	same := len(old) == n
	for i := 0; i < n; i++ {
		p, isNil, err := r.bytes()
		if err != nil || isNil {
			return nil, errUnusual
		}
		if same && string(p) != old[i] {
			same = false
		}
	}
	if same {
		return old, nil
	}
	r.off = start
	out := make([]string, n)
	for i := range out {
		p, _, _ := r.bytes()
		out[i] = string(p)
	}
	return out, nil
}

// int reads an integer as msgpack/v5's DecodeInt64 does (nil is 0).
func (r *mpReader) int() (int64, error) {
	c, ok := r.next()
	if !ok {
		return 0, errUnusual
	}
	return r.intCode(c)
}

func (r *mpReader) intCode(c byte) (int64, error) {
	switch {
	case c == 0xc0:
		return 0, nil
	case c <= 0x7f || c >= 0xe0:
		return int64(int8(c)), nil
	}
	var v uint64
	ok := false
	switch c {
	case 0xcc, 0xd0:
		v, ok = r.uint(1)
		if ok && c == 0xd0 {
			return int64(int8(v)), nil
		}
	case 0xcd, 0xd1:
		v, ok = r.uint(2)
		if ok && c == 0xd1 {
			return int64(int16(v)), nil
		}
	case 0xce, 0xd2:
		v, ok = r.uint(4)
		if ok && c == 0xd2 {
			return int64(int32(v)), nil
		}
	case 0xcf, 0xd3:
		v, ok = r.uint(8)
	}
	if !ok {
		return 0, errUnusual
	}
	return int64(v), nil
}

// float reads a float (or an integer) as msgpack/v5's DecodeFloat64 does.
func (r *mpReader) float() (float64, error) {
	c, ok := r.next()
	if !ok {
		return 0, errUnusual
	}
	switch c {
	case 0xca:
		v, ok := r.uint(4)
		if !ok {
			return 0, errUnusual
		}
		return float64(math.Float32frombits(uint32(v))), nil
	case 0xcb:
		v, ok := r.uint(8)
		if !ok {
			return 0, errUnusual
		}
		return math.Float64frombits(v), nil
	}
	n, err := r.intCode(c)
	return float64(n), err
}

// time reads msgpack's timestamp extension (type -1) as msgpack/v5 does.
func (r *mpReader) time() (time.Time, error) {
	c, ok := r.next()
	if !ok {
		return time.Time{}, errUnusual
	}
	n := 0
	switch c {
	case 0xd6:
		n = 4
	case 0xd7:
		n = 8
	case 0xc7:
		l, ok := r.uint(1)
		if !ok {
			return time.Time{}, errUnusual
		}
		n = int(l)
	default:
		return time.Time{}, errUnusual
	}
	typ, ok := r.next()
	if !ok || int8(typ) != -1 {
		return time.Time{}, errUnusual
	}
	p, ok := r.take(n)
	if !ok {
		return time.Time{}, errUnusual
	}
	var tm time.Time
	switch n {
	case 4:
		tm = time.Unix(int64(binary.BigEndian.Uint32(p)), 0)
	case 8:
		v := binary.BigEndian.Uint64(p)
		tm = time.Unix(int64(v&0x00000003ffffffff), int64(v>>34))
	case 12:
		tm = time.Unix(int64(binary.BigEndian.Uint64(p[4:])), int64(binary.BigEndian.Uint32(p)))
	default:
		return time.Time{}, errUnusual
	}
	if tm.IsZero() {
		tm = tm.UTC()
	}
	return tm, nil
}

// checkStructure reports whether data is one complete msgpack value whose
// every length fits in data. The generic decoder trusts declared lengths
// and would allocate what a ten-byte message claims (gigabytes); this
// refuses such a message first.
func checkStructure(data []byte) error {
	r := mpReader{b: data}
	if err := r.skip(0); err != nil {
		return errors.New("truncated, too deeply nested, or a length past its end")
	}
	return nil
}

// skip skips one value of any type.
func (r *mpReader) skip(depth int) error {
	if depth > maxSkipDepth {
		return errUnusual
	}
	c, ok := r.next()
	if !ok {
		return errUnusual
	}
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return nil
	case c >= 0xa0 && c <= 0xbf:
		return r.skipN(int(c & 0x1f))
	case c >= 0x80 && c <= 0x8f:
		return r.skipItems(2*int(c&0x0f), depth)
	case c >= 0x90 && c <= 0x9f:
		return r.skipItems(int(c&0x0f), depth)
	}
	switch c {
	case 0xcc, 0xd0:
		return r.skipN(1)
	case 0xcd, 0xd1:
		return r.skipN(2)
	case 0xce, 0xd2, 0xca:
		return r.skipN(4)
	case 0xcf, 0xd3, 0xcb:
		return r.skipN(8)
	case 0xd9, 0xc4:
		return r.skipLen(1, 0)
	case 0xda, 0xc5:
		return r.skipLen(2, 0)
	case 0xdb, 0xc6:
		return r.skipLen(4, 0)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext: type byte + 1..16 bytes
		return r.skipN(1 + 1<<(c-0xd4))
	case 0xc7:
		return r.skipLen(1, 1)
	case 0xc8:
		return r.skipLen(2, 1)
	case 0xc9:
		return r.skipLen(4, 1)
	case 0xdc, 0xdd:
		n, ok := r.uint(2 << (c - 0xdc))
		if !ok {
			return errUnusual
		}
		return r.skipItems(int(n), depth)
	case 0xde, 0xdf:
		n, ok := r.uint(2 << (c - 0xde))
		if !ok {
			return errUnusual
		}
		return r.skipItems(2*int(n), depth)
	}
	return errUnusual
}

func (r *mpReader) skipN(n int) error {
	if _, ok := r.take(n); !ok {
		return errUnusual
	}
	return nil
}

// skipLen skips a value whose length is in the next size bytes, plus extra.
func (r *mpReader) skipLen(size, extra int) error {
	n, ok := r.uint(size)
	if !ok {
		return errUnusual
	}
	return r.skipN(int(n) + extra)
}

func (r *mpReader) skipItems(n, depth int) error {
	if n < 0 || n > len(r.b)-r.off {
		return errUnusual // every item takes at least a byte
	}
	for i := 0; i < n; i++ {
		if err := r.skip(depth + 1); err != nil {
			return err
		}
	}
	return nil
}
