package engagement

import (
	"strings"
	"unicode"
)

// CleanText removes what must never reach another user's screen from user text: control
// characters (newlines kept when keepNewlines, as line breaks of a comment) and the bidi
// override and isolate characters that can make text display reversed or spoof what follows.
// Format characters such as the zero-width joiner stay: emoji sequences need them.
func CleanText(s string, keepNewlines bool) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' && keepNewlines:
			return r
		case r == '\t':
			return ' '
		case r == unicode.ReplacementChar:
			return -1
		case unicode.IsControl(r):
			return -1
		case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
			return -1
		}
		return r
	}, s)
}
