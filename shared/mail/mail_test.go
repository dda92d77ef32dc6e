package mail

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"testing"
	"time"

	"vodfc.dev/vodfc"
)

// The SMTP round trips (plain, STARTTLS, implicit TLS, AUTH) run against the local cloud's
// mailbox in local/mailbox, since shared may not import local. These tests cover what needs no
// server, plus failures a server cannot be made to produce.

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfig(t *testing.T) {
	base := map[string]string{EnvAddr: "smtpdm.aliyun.com:465", EnvUsername: "noreply@mail.vodfc.test",
		EnvPassword: "secret", EnvFrom: "vodfc <noreply@mail.vodfc.test>"}
	with := func(k, v string) func(string) string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		m[k] = v
		return env(m)
	}
	c, err := LoadConfig(env(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS != TLSImplicit || c.Timeout != DefaultTimeout || c.Site.Name != "vodfc" {
		t.Fatalf("defaults for port 465: %+v", c)
	}
	if c, _ := LoadConfig(with(EnvAddr, "smtpdm.aliyun.com:80")); c.TLS != TLSStartTLS {
		t.Fatalf("port 80 defaults to %q, want starttls", c.TLS)
	}
	if c, _ := LoadConfig(with(EnvTLS, " STARTTLS ")); c.TLS != TLSStartTLS {
		t.Fatalf("SMTP_TLS is case-insensitive: got %q", c.TLS)
	}
	if _, err := LoadConfig(with(EnvTLS, "none")); err == nil || !strings.Contains(err.Error(), "unencrypted") {
		t.Fatalf("credentials in clear to a remote host: %v", err)
	}
	local := map[string]string{EnvAddr: "127.0.0.1:2525", EnvTLS: "none", EnvFrom: "noreply@vodfc.test"}
	if _, err := LoadConfig(env(local)); err != nil {
		t.Fatalf("the local mailbox config: %v", err)
	}
	for _, tc := range []struct{ k, v, want string }{
		{EnvAddr, "", "SMTP_ADDR is not set"},
		{EnvAddr, "smtpdm.aliyun.com", "want host:port"},
		{EnvFrom, "", "MAIL_FROM is not set"},
		{EnvFrom, "not an address", "MAIL_FROM"},
		{EnvFrom, "vodfc <nö@vodfc.test>", "ASCII"},
		{EnvTLS, "ssl", "want implicit, starttls or none"},
		{EnvPassword, "", "set both SMTP_USERNAME and SMTP_PASSWORD"},
	} {
		_, err := LoadConfig(with(tc.k, tc.v))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%q: err = %v, want %q", tc.k, tc.v, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error reveals the password: %v", err)
		}
	}
}

func newSender(t *testing.T, addr string) *Sender {
	t.Helper()
	s, err := New(Config{Addr: addr, TLS: TLSNone, From: "视频站 <noreply@vodfc.test>", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return time.Date(2030, 5, 6, 7, 8, 9, 0, time.FixedZone("CST", 8*3600)) }
	return s
}

// TestCompose parses what compose writes with the standard library's own readers.
func TestCompose(t *testing.T) {
	s := newSender(t, "127.0.0.1:25")
	subject := "你好 Ünïcödé — a subject long enough that its encoded form must be folded over lines ✓"
	text := "第一行\nSecond line with = and trailing space \n" + strings.Repeat("long ", 40)
	html := "<p>你好 <b>world</b></p>"
	to, raw, err := s.compose(Message{To: "Alice <alice@example.com>", Subject: subject, Text: text, HTML: html})
	if err != nil {
		t.Fatal(err)
	}
	if to != "alice@example.com" {
		t.Fatalf("envelope recipient = %q", to)
	}
	// RFC 5322: lines MUST stay within 998 characters; encoded words are folded so the
	// subject's lines stay near the recommended 78 (an encoded word is at most 75).
	for i, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 998 || strings.HasPrefix(line, " =?") && len(line) > 78 {
			t.Errorf("line %d is %d characters: %q", i+1, len(line), line)
		}
	}
	if !bytes.Contains(raw, []byte("?=\r\n =?utf-8?")) {
		t.Error("the long subject was not folded")
	}
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
		t.Fatal("a bare LF in the message")
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	dec := new(mime.WordDecoder)
	if got, _ := dec.DecodeHeader(m.Header.Get("Subject")); got != subject {
		t.Errorf("Subject decodes to %q", got)
	}
	from, err := m.Header.AddressList("From")
	if err != nil || from[0].Name != "视频站" || from[0].Address != "noreply@vodfc.test" {
		t.Errorf("From = %v %v", from, err)
	}
	if d, err := m.Header.Date(); err != nil || !d.Equal(s.now()) {
		t.Errorf("Date = %v %v", d, err)
	}
	if id := m.Header.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@vodfc.test>") {
		t.Errorf("Message-ID = %q", id)
	}
	if m.Header.Get("MIME-Version") != "1.0" || m.Header.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("headers: %v", m.Header)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q %v", mt, err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var parts []string
	for _, want := range []struct{ typ, body string }{{"text/plain", text}, {"text/html", html}} {
		p, err := mr.NextRawPart()
		if err != nil {
			t.Fatal(err)
		}
		if ct := p.Header.Get("Content-Type"); ct != want.typ+"; charset=utf-8" || p.Header.Get("Content-Transfer-Encoding") != "quoted-printable" {
			t.Fatalf("part headers %v", p.Header)
		}
		b, err := io.ReadAll(quotedprintable.NewReader(p))
		if err != nil {
			t.Fatal(err)
		}
		got := strings.TrimSuffix(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
		if got != want.body {
			t.Errorf("%s part = %q, want %q", want.typ, got, want.body)
		}
		parts = append(parts, want.typ)
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Fatalf("more than two parts: %v", err)
	}

	// Text only: a single part, no multipart.
	_, raw, _ = s.compose(Message{To: "bob@example.com", Subject: "plain", Text: "just text"})
	m, _ = mail.ReadMessage(bytes.NewReader(raw))
	if ct := m.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Fatalf("text-only Content-Type %q", ct)
	}
}

func TestComposeRefusesBadMessages(t *testing.T) {
	s := newSender(t, "127.0.0.1:25")
	for name, msg := range map[string]Message{
		"header injection in subject": {To: "a@example.com", Subject: "hi\r\nBcc: victim@example.com", Text: "x"},
		"header injection in to":      {To: "a@example.com\r\nBcc: victim@example.com", Subject: "hi", Text: "x"},
		"two recipients":              {To: "a@example.com, b@example.com", Subject: "hi", Text: "x"},
		"no text":                     {To: "a@example.com", Subject: "hi", HTML: "<p>x</p>"},
		"non-ASCII address":           {To: "ü@example.com", Subject: "hi", Text: "x"},
		"invalid UTF-8":               {To: "a@example.com", Subject: "hi", Text: "\xff"},
		"subject too long":            {To: "a@example.com", Subject: strings.Repeat("x", 201), Text: "x"},
	} {
		if _, _, err := s.compose(msg); err == nil {
			t.Errorf("%s: composed", name)
		}
		if err := s.Send(context.Background(), msg); !vodfc.IsKind(err, vodfc.KindInternal) {
			t.Errorf("%s: Send = %v, want an internal error before any connection", name, err)
		}
	}
}

func TestTemplates(t *testing.T) {
	site := Site{Name: "视频站 <b>", URL: "https://vodfc.test/"}
	for name, render := range map[string]func() (Message, error){
		"verification": func() (Message, error) {
			return VerificationCode(site, "Alice <alice@example.com>", "042917", 10*time.Minute)
		},
		"reset": func() (Message, error) { return PasswordResetCode(site, "alice@example.com", "042917", time.Minute) },
	} {
		m, err := render()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.Contains(m.Text, "042917") || !strings.Contains(m.HTML, ">042917<") {
			t.Errorf("%s: the code is not in both bodies", name)
		}
		if !strings.Contains(m.Text, "alice@example.com") || strings.Contains(m.Text, "Alice <") {
			t.Errorf("%s: text should name the bare address:\n%s", name, m.Text)
		}
		if !strings.Contains(m.Subject, "视频站 <b>") || strings.Contains(m.HTML, "视频站 <b>") || !strings.Contains(m.HTML, "视频站 &lt;b&gt;") {
			t.Errorf("%s: site name not escaped in HTML (or mangled in the subject)", name)
		}
		if !strings.Contains(m.Text, "minute") || strings.Contains(m.Text, "1 minutes") {
			t.Errorf("%s: lifetime wording:\n%s", name, m.Text)
		}
	}
	m, err := AccountExists(site, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Subject, "already have") || !strings.Contains(m.HTML, `href="https://vodfc.test/"`) ||
		!strings.Contains(m.Text, "https://vodfc.test/") || !strings.Contains(m.Text, "Forgot password") {
		t.Errorf("account-exists message:\n%s\n%s\n%s", m.Subject, m.Text, m.HTML)
	}
	m, err = NoAccount(site, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Subject, "No 视频站 <b> account") || !strings.Contains(m.Text, "alice@example.com") ||
		!strings.Contains(m.HTML, `href="https://vodfc.test/"`) || !strings.Contains(m.Text, "no account uses this") {
		t.Errorf("no-account message:\n%s\n%s\n%s", m.Subject, m.Text, m.HTML)
	}
	// A javascript: URL is neutralised by html/template.
	m, _ = AccountExists(Site{Name: "x", URL: "javascript:alert(1)"}, "alice@example.com")
	if strings.Contains(m.HTML, "javascript:") {
		t.Error("javascript: URL made it into the HTML")
	}
	for _, bad := range []func() error{
		func() error { _, err := VerificationCode(site, "alice@example.com", "12 34", time.Minute); return err },
		func() error { _, err := VerificationCode(site, "alice@example.com", "", time.Minute); return err },
		func() error { _, err := VerificationCode(site, "alice@example.com", "123456", 0); return err },
		func() error { _, err := PasswordResetCode(site, "not an address", "123456", time.Minute); return err },
	} {
		if bad() == nil {
			t.Error("bad template input accepted")
		}
	}
}

// TestSendTimeout: a server that accepts the connection and never greets must not hang Send.
func TestSendTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // silent until the test ends
		}
	}()
	s := newSender(t, ln.Addr().String())
	s.cfg.Timeout = 200 * time.Millisecond
	err = s.Send(context.Background(), Message{To: "a@example.com", Subject: "hi", Text: "x"})
	if !vodfc.IsKind(err, vodfc.KindUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want unavailable after the deadline", err)
	}
	// The caller's context bounds it too.
	s.cfg.Timeout = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.Send(ctx, Message{To: "a@example.com", Subject: "hi", Text: "x"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the caller's deadline", err)
	}
}

func TestSendConnectionRefused(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	err := newSender(t, addr).Send(context.Background(), Message{To: "a@example.com", Subject: "hi", Text: "x"})
	if !vodfc.IsKind(err, vodfc.KindUnavailable) {
		t.Fatalf("err = %v, want unavailable", err)
	}
}
