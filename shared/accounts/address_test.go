package accounts

import (
	"strings"
	"testing"

	"vodfc.dev/vodfc"
)

func TestParseAddress(t *testing.T) {
	for _, tc := range []struct{ in, mailbox, key string }{
		{"alice@example.com", "alice@example.com", "alice@example.com"},
		{"  Alice.Smith@Example.COM \t", "Alice.Smith@example.com", "alice.smith@example.com"},
		{"o'brien+video@mail.example.co.uk", "o'brien+video@mail.example.co.uk", "o'brien+video@mail.example.co.uk"},
		{"x@xn--fiqs8s.cn", "x@xn--fiqs8s.cn", "x@xn--fiqs8s.cn"},
		{"123456@qq.com", "123456@qq.com", "123456@qq.com"},
	} {
		a, err := ParseAddress(tc.in)
		if err != nil || a.Mailbox != tc.mailbox || a.Key != tc.key {
			t.Errorf("ParseAddress(%q) = %+v, %v", tc.in, a, err)
		}
	}
	for _, in := range []string{
		"", "plain", "@example.com", "a@", "a@b", "a@localhost", "a@@example.com", "a b@example.com",
		".a@example.com", "a.@example.com", "a..b@example.com", `"quoted"@example.com`, "a@[127.0.0.1]",
		"a@-example.com", "a@example-.com", "a@example.123", "a@exa_mple.com", "用户@example.com", "a@例子.cn",
		strings.Repeat("a", 65) + "@example.com", "a@" + strings.Repeat("b", 250) + ".com",
		"a@example.com\r\nBcc: victim@example.com", "<a@example.com>",
	} {
		if a, err := ParseAddress(in); err == nil {
			t.Errorf("ParseAddress(%q) accepted as %+v", in, a)
		} else if !vodfc.IsCode(err, "invalid_field") {
			t.Errorf("ParseAddress(%q): %v", in, err)
		}
	}
	if _, err := ParseAddress("a@例子.cn"); err == nil || !strings.Contains(vodfc.As(err).Message, "xn--") {
		t.Errorf("a non-ASCII domain should point at its xn-- form: %v", err)
	}
}

func TestNicknameAndBioRules(t *testing.T) {
	if n, err := cleanNickname("  e\u0301cole  "); err != nil || n != "\u00e9cole" {
		t.Errorf("nickname is trimmed and NFC-normalised: %q %v", n, err)
	}
	if n, err := cleanNickname("👨\u200d👩\u200d👧 家"); err != nil || n == "" {
		t.Errorf("emoji joiners are fine: %q %v", n, err)
	}
	for _, bad := range []string{"", "   ", "a\nb", "a\u202eb", "a\u200bb", "a\x00b", strings.Repeat("x", 33), "\xff"} {
		if _, err := cleanNickname(bad); err == nil {
			t.Errorf("nickname %q accepted", bad)
		}
	}
	if b, err := cleanBio("one\r\ntwo\n"); err != nil || b != "one\ntwo" {
		t.Errorf("bio %q %v", b, err)
	}
	if b, err := cleanBio(""); err != nil || b != "" {
		t.Errorf("an empty bio is allowed: %q %v", b, err)
	}
	if _, err := cleanBio(strings.Repeat("字", 501)); err == nil {
		t.Error("a 501-character bio was accepted")
	}
}
