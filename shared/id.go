package vodfc

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// idAlphabet is lowercase base32 without easily confused letters, so ids survive being read
// aloud, typed from a phone or lower-cased by a proxy.
const idAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// NewID returns a random 16-character identifier (80 bits from crypto/rand). Ids of users and
// videos are random so that they cannot be enumerated or counted from the outside.
func NewID() string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("vodfc: crypto/rand failed: " + err.Error())
	}
	return encodeID(b[:])
}

// NewSortableID returns a 20-character identifier whose lexical order follows t (millisecond
// precision) with 52 random bits behind it, for records listed newest first in range reads.
func NewSortableID(t time.Time) string {
	var b [13]byte // 48 bits of milliseconds, then random bytes; 20 chars keep 100 of the 104 bits
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic("vodfc: crypto/rand failed: " + err.Error())
	}
	return encodeID(b[:])[:20]
}

// encodeID writes b as base32 with idAlphabet, most significant bits first so that byte order
// and string order agree.
func encodeID(b []byte) string {
	out := make([]byte, 0, (len(b)*8+4)/5)
	var acc uint64
	bits := 0
	for _, x := range b {
		acc = acc<<8 | uint64(x)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out = append(out, idAlphabet[(acc>>uint(bits))&31])
		}
	}
	if bits > 0 {
		out = append(out, idAlphabet[(acc<<uint(5-bits))&31])
	}
	return string(out)
}

// ValidID reports whether s looks like an id made by NewID or NewSortableID; handlers use it to
// answer 404 for junk before touching storage.
func ValidID(s string) bool {
	if len(s) != 16 && len(s) != 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z') || c == 'i' || c == 'l' || c == 'o' || c == 'u' {
			return false
		}
	}
	return true
}
