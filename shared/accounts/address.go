package accounts

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"vodfc.dev/vodfc"
)

// Address is a normalised email address.
type Address struct {
	// Mailbox is where mail goes: the address as typed, trimmed, with the domain lower-cased.
	Mailbox string
	// Key identifies the account: the whole address lower-cased (see the package doc).
	Key string
}

// Local is the local part of the address (for the password policy's "not your address").
func (a Address) Local() string {
	local, _, _ := strings.Cut(a.Key, "@")
	return local
}

// Size limits of RFC 5321 §4.5.3.1.
const (
	maxAddressLen = 254
	maxLocalLen   = 64
	maxLabelLen   = 63
)

// ParseAddress checks and normalises an email address. It accepts the dot-atom form every
// mail provider hands out (RFC 5322 §3.4.1 without quoted local parts or address literals)
// with an ASCII domain of at least two labels. Errors are 400 invalid_field on "email".
func ParseAddress(s string) (Address, error) {
	s = strings.TrimSpace(s)
	bad := func(reason string) (Address, error) { return Address{}, vodfc.InvalidField("email", reason) }
	switch {
	case s == "":
		return bad("is required")
	case len(s) > maxAddressLen:
		return bad("is longer than 254 characters")
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return bad("is not an email address")
	}
	local, domain := s[:at], strings.ToLower(s[at+1:])
	if len(local) > maxLocalLen {
		return bad("has a part before @ longer than 64 characters")
	}
	if !dotAtom(local) {
		return bad("is not an email address we can send to (letters, digits and . _ % + - before the @)")
	}
	if !hostname(domain) {
		if !isASCII(domain) {
			return bad("has a domain that is not ASCII; write it in its xn-- form")
		}
		return bad("does not end in a valid domain name")
	}
	return Address{Mailbox: local + "@" + domain, Key: strings.ToLower(local) + "@" + domain}, nil
}

// dotAtom accepts RFC 5322 atext separated by single dots.
func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte(".!#$%&'*+-/=?^_`{|}~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// hostname accepts LDH labels, at least two, with a top-level label that is not all digits.
func hostname(s string) bool {
	if len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > maxLabelLen || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return strings.Trim(labels[len(labels)-1], "0123456789") != ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Profile text limits, in characters.
const (
	MaxNicknameRunes = 32
	MaxBioRunes      = 500
)

const (
	zwj  = '\u200d'
	zwnj = '\u200c'
)

// cleanNickname trims and NFC-normalises a nickname: 1 to 32 characters with no control or
// format characters (which could hide text or reorder it on screen).
func cleanNickname(s string) (string, error) {
	s, err := cleanText("nickname", s, MaxNicknameRunes, false)
	if err == nil && s == "" {
		err = vodfc.InvalidField("nickname", "is required")
	}
	return s, err
}

// cleanBio trims and NFC-normalises a bio: up to 500 characters; line breaks are kept.
func cleanBio(s string) (string, error) {
	return cleanText("bio", s, MaxBioRunes, true)
}

func cleanText(field, s string, max int, multiline bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", vodfc.InvalidField(field, "is not valid UTF-8 text")
	}
	s = strings.TrimSpace(norm.NFC.String(s))
	if multiline {
		s = strings.ReplaceAll(s, "\r\n", "\n")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", vodfc.InvalidField(field, "must be at most "+strconv.Itoa(max)+" characters")
	}
	for _, r := range s {
		if multiline && r == '\n' {
			continue
		}
		// Joiners stay: emoji sequences and several scripts need them. Other format
		// characters (bidi overrides, zero-width spaces) only serve to disguise text.
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) && r != zwj && r != zwnj {
			return "", vodfc.InvalidField(field, "must not contain control or invisible formatting characters")
		}
	}
	return s, nil
}
