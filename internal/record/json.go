package record

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// safe[b] is true for ASCII bytes that need no escaping in a JSON string.
var safe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// AppendJSONString appends s as a JSON string. Invalid UTF-8 bytes become the
// six characters \\xNN in the JSON text (the four characters \xNN once
// decoded), so no byte of a line is lost. logagent writes its events with
// it, logtransfer its bulk action lines.
func AppendJSONString(dst, s []byte) []byte {
	dst, _ = AppendJSONStringFlag(dst, s)
	return dst
}

// AppendJSONStringFlag is AppendJSONString that also reports whether s held
// invalid UTF-8 (logagent flags such events). It skips runs of plain ASCII
// eight bytes at a time: it runs once per line and per path.
func AppendJSONStringFlag(dst, s []byte) ([]byte, bool) {
	dst = append(dst, '"')
	invalid := false
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) {
			if m := special8(binary.LittleEndian.Uint64(s[i:])); m == 0 {
				i += 8
				continue
			} else if skip := bits.TrailingZeros64(m) / 8; skip > 0 {
				i += skip // to the first byte that needs a look
			}
		}
		b := s[i]
		if b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			invalid = true
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', '\\', 'x', hexDigits[b>>4], hexDigits[b&0xf])
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' { // valid JSON, but breaks JavaScript consumers
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), invalid
}

// special8 returns a mask with the high bit set in the bytes of x (little
// endian) that may need escaping: control bytes, quotes, backslashes and
// non-ASCII bytes. It is the classic "has zero byte" bit trick applied to x,
// x^'"' and x^'\\': zero means all 8 bytes are plain, and the lowest set bit
// is exact (borrows only carry upwards), so the first byte to look at is
// TrailingZeros64(mask)/8; higher bits may be false alarms.
func special8(x uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q := x ^ (lo * '"')
	b := x ^ (lo * '\\')
	return ((x - lo*0x20) | (q - lo) | (b - lo) | x) & hi
}
