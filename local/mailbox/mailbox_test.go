package mailbox

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/mail"
)

// Every test talks real SMTP over loopback: shared/mail's client on one side, this package's
// go-smtp server on the other.

const from = "vodfc <noreply@mail.vodfc.test>"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func start(t *testing.T, opts Options) *Mailbox {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	opts.Logger = quiet
	m, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func sender(t *testing.T, cfg mail.Config) *mail.Sender {
	t.Helper()
	if cfg.From == "" {
		cfg.From = from
	}
	cfg.Timeout = 10 * time.Second
	s, err := mail.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wait(t *testing.T, m *Mailbox, to string) Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg, err := m.Wait(ctx, to)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestPlain(t *testing.T) {
	m := start(t, Options{})
	s := sender(t, mail.Config{Addr: m.Addr(), TLS: mail.TLSNone})
	if err := s.SendVerificationCode(context.Background(), "Alice@Example.com", "042917", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	msg := wait(t, m, "alice@example.COM")
	if msg.TLS || msg.AuthUser != "" {
		t.Errorf("plain message: tls=%v auth=%q", msg.TLS, msg.AuthUser)
	}
	if len(msg.To) != 1 || msg.To[0] != "Alice@Example.com" || msg.EnvelopeFrom != "noreply@mail.vodfc.test" {
		t.Errorf("envelope: to=%v from=%q", msg.To, msg.EnvelopeFrom)
	}
	if msg.From != "vodfc <noreply@mail.vodfc.test>" || msg.Subject != "Your vodfc verification code" {
		t.Errorf("from=%q subject=%q", msg.From, msg.Subject)
	}
	if !strings.Contains(msg.Text, "    042917\n") || !strings.Contains(msg.HTML, ">042917</p>") {
		t.Errorf("code missing from a body:\ntext: %s\nhtml: %s", msg.Text, msg.HTML)
	}
	if msg.MessageID == "" || !strings.Contains(msg.Raw, "<"+msg.MessageID+">") || msg.ParseError != "" {
		t.Errorf("message id %q, parse error %q", msg.MessageID, msg.ParseError)
	}
	for _, h := range []string{"Date: ", "MIME-Version: 1.0", "Content-Type: multipart/alternative;", "Auto-Submitted: auto-generated"} {
		if !strings.Contains(msg.Raw, h) {
			t.Errorf("raw message lacks %q", h)
		}
	}
}

func TestSTARTTLSWithAuth(t *testing.T) {
	m := start(t, Options{STARTTLS: true, Username: "noreply@mail.vodfc.test", Password: "s3cret"})
	s := sender(t, mail.Config{Addr: m.Addr(), TLS: mail.TLSStartTLS, Username: "noreply@mail.vodfc.test",
		Password: "s3cret", TLSConfig: &tls.Config{RootCAs: m.RootCAs()}})
	if err := s.SendPasswordResetCode(context.Background(), "bob@example.com", "314159", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	msg := wait(t, m, "bob@example.com")
	if !msg.TLS || msg.AuthUser != "noreply@mail.vodfc.test" {
		t.Fatalf("tls=%v auth=%q, want both", msg.TLS, msg.AuthUser)
	}
	if !strings.Contains(msg.Text, "314159") || !strings.Contains(msg.HTML, "314159") {
		t.Fatal("reset code missing")
	}
}

func TestImplicitTLSWithAuthLOGIN(t *testing.T) {
	// DirectMail-like: TLS from the first byte, and LOGIN the only mechanism.
	m := start(t, Options{TLSAddr: "127.0.0.1:0", Username: "noreply@mail.vodfc.test", Password: "s3cret",
		AuthMechanisms: []string{"LOGIN"}})
	s := sender(t, mail.Config{Addr: m.TLSAddr(), TLS: mail.TLSImplicit, Username: "noreply@mail.vodfc.test",
		Password: "s3cret", TLSConfig: &tls.Config{RootCAs: m.RootCAs()}})
	if err := s.SendAccountExists(context.Background(), "carol@example.com"); err != nil {
		t.Fatal(err)
	}
	msg := wait(t, m, "carol@example.com")
	if !msg.TLS || msg.AuthUser != "noreply@mail.vodfc.test" {
		t.Fatalf("tls=%v auth=%q, want both", msg.TLS, msg.AuthUser)
	}
	if !strings.Contains(msg.Subject, "already have") {
		t.Fatalf("subject %q", msg.Subject)
	}
}

// TestLOGINWithoutInitialResponse drives the LOGIN exchange the old way, Username: first.
func TestLOGINWithoutInitialResponse(t *testing.T) {
	l := &loginServer{authenticate: func(u, p string) error {
		if u != "user" || p != "pass" {
			return smtp.ErrAuthFailed
		}
		return nil
	}}
	for _, step := range []struct {
		in, want string
		done     bool
	}{{"", "Username:", false}, {"user", "Password:", false}, {"pass", "", true}} {
		var in []byte
		if step.in != "" {
			in = []byte(step.in)
		}
		ch, done, err := l.Next(in)
		if err != nil || string(ch) != step.want || done != step.done {
			t.Fatalf("Next(%q) = %q %v %v", step.in, ch, done, err)
		}
	}
}

func TestAuthFailures(t *testing.T) {
	m := start(t, Options{STARTTLS: true, Username: "noreply@mail.vodfc.test", Password: "s3cret"})
	tlsCfg := &tls.Config{RootCAs: m.RootCAs()}
	msg := mail.Message{To: "dave@example.com", Subject: "hi", Text: "x"}

	wrong := sender(t, mail.Config{Addr: m.Addr(), TLS: mail.TLSStartTLS, Username: "noreply@mail.vodfc.test", Password: "guess", TLSConfig: tlsCfg})
	err := wrong.Send(context.Background(), msg)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 535 || !vodfc.IsKind(err, vodfc.KindInternal) {
		t.Fatalf("wrong password: %v, want a permanent 535", err)
	}

	anonymous := sender(t, mail.Config{Addr: m.Addr(), TLS: mail.TLSStartTLS, TLSConfig: tlsCfg})
	if err := anonymous.Send(context.Background(), msg); !errors.As(err, &se) || se.Code/100 != 5 || !vodfc.IsKind(err, vodfc.KindInternal) {
		t.Fatalf("no credentials: %v, want a permanent refusal", err)
	}

	untrusted := sender(t, mail.Config{Addr: m.Addr(), TLS: mail.TLSStartTLS, Username: "noreply@mail.vodfc.test", Password: "s3cret"})
	if err := untrusted.Send(context.Background(), msg); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("self-signed certificate without trust: %v", err)
	}
	if n := len(m.Messages("")); n != 0 {
		t.Fatalf("%d messages stored after failed sends", n)
	}
}

func TestSTARTTLSRequiredNotSilentlyDropped(t *testing.T) {
	m := start(t, Options{}) // no STARTTLS offered
	s := sender(t, mail.Config{Addr: m.Addr(), TLS: mail.TLSStartTLS})
	err := s.Send(context.Background(), mail.Message{To: "eve@example.com", Subject: "hi", Text: "x"})
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("err = %v, want a refusal to continue without STARTTLS", err)
	}
	if len(m.Messages("")) != 0 {
		t.Fatal("message sent in clear despite starttls mode")
	}
}

func TestNonASCII(t *testing.T) {
	m := start(t, Options{STARTTLS: true})
	s := sender(t, mail.Config{Addr: m.Addr(), TLS: mail.TLSStartTLS, TLSConfig: &tls.Config{RootCAs: m.RootCAs()},
		From: "哔哩视频 <noreply@mail.vodfc.test>", Site: mail.Site{Name: "哔哩视频"}})
	subject := "你的视频《猫咪合集 第二季》已经转码完成 — prêt à regarder ✓ 🎬"
	text := "你好，\n\n视频已就绪。Ünïcödé text with = signs and a very long line " + strings.Repeat("长", 100) + "\n"
	html := "<p>你好，<b>视频已就绪</b> 🎬</p>"
	if err := s.Send(context.Background(), mail.Message{To: "弗兰克 <frank@example.com>", Subject: subject, Text: text, HTML: html}); err != nil {
		t.Fatal(err)
	}
	msg := wait(t, m, "frank@example.com")
	if msg.Subject != subject {
		t.Errorf("subject = %q", msg.Subject)
	}
	if msg.From != "哔哩视频 <noreply@mail.vodfc.test>" {
		t.Errorf("from = %q", msg.From)
	}
	if strings.TrimSuffix(msg.Text, "\n") != strings.TrimSuffix(text, "\n") {
		t.Errorf("text = %q", msg.Text)
	}
	if strings.TrimSuffix(msg.HTML, "\n") != html {
		t.Errorf("html = %q", msg.HTML)
	}
	if !isASCII(msg.Raw) {
		t.Error("raw message is not 7-bit: encodings were skipped")
	}
	// A template under a non-ASCII site name.
	if err := s.SendVerificationCode(context.Background(), "frank@example.com", "271828", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	msg = wait(t, m, "frank@example.com")
	if msg.Subject != "Your 哔哩视频 verification code" || !strings.Contains(msg.Text, "271828") || !strings.Contains(msg.HTML, "哔哩视频") {
		t.Errorf("templated non-ASCII message: %q\n%s", msg.Subject, msg.HTML)
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] > 0x7e {
			return false
		}
	}
	return true
}

// TestForeignEncodings feeds messages shaped like other mailers' output straight over SMTP:
// GBK in base64, Latin-1 in quoted-printable, nested multiparts with an attachment, and a
// message too broken to parse.
func TestForeignEncodings(t *testing.T) {
	m := start(t, Options{})
	send := func(to, raw string) {
		t.Helper()
		raw = strings.ReplaceAll(raw, "\n", "\r\n")
		c, err := smtp.Dial(m.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.SendMail("legacy@example.net", []string{to}, strings.NewReader(raw)); err != nil {
			t.Fatal(err)
		}
	}
	// "你好" in GBK is C4 E3 BA C3; base64 "xOO6ww==".
	send("gbk@example.com", `From: =?gbk?b?xOO6ww==?= <old@example.net>
To: gbk@example.com
Subject: =?gbk?b?xOO6ww==?= world
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=gbk
Content-Transfer-Encoding: base64

xOO6ww==
--inner
Content-Type: text/html; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

<p>caf=E9</p>
--inner--
--outer
Content-Type: application/pdf
Content-Disposition: attachment; filename="a.pdf"
Content-Transfer-Encoding: base64

JVBERi0=
--outer--
`)
	msg := wait(t, m, "gbk@example.com")
	if msg.Subject != "你好 world" || msg.From != "你好 <old@example.net>" || msg.Text != "你好" || msg.HTML != "<p>café</p>" || msg.ParseError != "" {
		t.Errorf("decoded: subject=%q from=%q text=%q html=%q err=%q", msg.Subject, msg.From, msg.Text, msg.HTML, msg.ParseError)
	}

	send("single@example.com", "Subject: single\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nsoft=\n break =E2=9C=93\n")
	if msg := wait(t, m, "single@example.com"); msg.Text != "soft break ✓\n" || msg.HTML != "" {
		t.Errorf("single part: %q %q", msg.Text, msg.HTML)
	}

	send("broken@example.com", "Subject: broken\nContent-Type: multipart/alternative\n\nno boundary at all\n")
	msg = wait(t, m, "broken@example.com")
	if msg.ParseError == "" || !strings.Contains(msg.Raw, "no boundary at all") {
		t.Errorf("broken message: parse_error=%q raw=%q", msg.ParseError, msg.Raw)
	}
}

func TestWaitHandsOutEachMessageOnce(t *testing.T) {
	m := start(t, Options{})
	s := sender(t, mail.Config{Addr: m.Addr(), TLS: mail.TLSNone})
	for _, code := range []string{"111111", "222222"} {
		if err := s.SendVerificationCode(context.Background(), "grace@example.com", code, 10*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for _, code := range []string{"111111", "222222"} {
		if msg := wait(t, m, "GRACE@example.com"); !strings.Contains(msg.Text, code) {
			t.Fatalf("got %q, want the message with %s", msg.Text, code)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := m.Wait(ctx, "grace@example.com"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third Wait: %v, want a timeout", err)
	}
	// Another address's Wait is independent; "" waits for anyone.
	if msg := wait(t, m, ""); !strings.Contains(msg.Text, "111111") {
		t.Fatalf("Wait(\"\") = %q", msg.Text)
	}

	// Wait blocks until the message arrives.
	got := make(chan Message, 1)
	go func() {
		msg, err := m.Wait(context.Background(), "heidi@example.com")
		if err != nil {
			t.Error(err)
		}
		got <- msg
	}()
	if err := s.SendAccountExists(context.Background(), "heidi@example.com"); err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-got:
		if msg.To[0] != "heidi@example.com" {
			t.Fatalf("woke with %v", msg.To)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not wake up")
	}
}

func TestConcurrentSenders(t *testing.T) {
	m := start(t, Options{STARTTLS: true})
	s := sender(t, mail.Config{Addr: m.Addr(), TLS: mail.TLSStartTLS, TLSConfig: &tls.Config{RootCAs: m.RootCAs()}})
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			if err := s.SendVerificationCode(context.Background(), fmt.Sprintf("user%d@example.com", i), fmt.Sprintf("%06d", i), 10*time.Minute); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	msgs := m.Messages("")
	ids := map[string]bool{}
	for _, msg := range msgs {
		ids[msg.ID] = true
	}
	if len(msgs) != 12 || len(ids) != 12 {
		t.Fatalf("%d messages, %d distinct ids; want 12", len(msgs), len(ids))
	}
	for i := range 12 {
		if got := m.Messages(fmt.Sprintf("USER%d@example.com", i)); len(got) != 1 || !strings.Contains(got[0].Text, fmt.Sprintf("%06d", i)) {
			t.Fatalf("user%d: %d messages", i, len(got))
		}
	}
}

func TestKeepAndOversize(t *testing.T) {
	m := start(t, Options{Keep: 3, MaxMessageBytes: 4096})
	s := sender(t, mail.Config{Addr: m.Addr(), TLS: mail.TLSNone})
	for i := range 5 {
		if err := s.Send(context.Background(), mail.Message{To: "ivan@example.com", Subject: fmt.Sprint("n", i), Text: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	msgs := m.Messages("ivan@example.com")
	if len(msgs) != 3 || msgs[0].Subject != "n4" || msgs[2].Subject != "n2" {
		t.Fatalf("kept %d: %v", len(msgs), subjects(msgs))
	}
	err := s.Send(context.Background(), mail.Message{To: "ivan@example.com", Subject: "big", Text: strings.Repeat("x", 8192)})
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 552 {
		t.Fatalf("oversized message: %v, want 552", err)
	}
	if m.Messages("")[0].Subject != "n4" {
		t.Fatal("oversized message was stored")
	}
}

func subjects(msgs []Message) []string {
	var s []string
	for _, m := range msgs {
		s = append(s, m.Subject)
	}
	return s
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	m := start(t, Options{Dir: dir, Keep: 2})
	s := sender(t, mail.Config{Addr: m.Addr(), TLS: mail.TLSNone})
	for i := range 3 {
		if err := s.Send(context.Background(), mail.Message{To: "judy@example.com", Subject: fmt.Sprint("p", i), Text: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	m.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != 2 {
		t.Fatalf("%d files on disk, want 2 (Keep)", len(files))
	}
	os.WriteFile(filepath.Join(dir, "00000000000000000000-corrupt.json"), []byte("{not json"), 0o600)

	again := start(t, Options{Dir: dir, Keep: 2})
	msgs := again.Messages("JUDY@example.com")
	if got := subjects(msgs); len(got) != 2 || got[0] != "p2" || got[1] != "p1" {
		t.Fatalf("reloaded %v, want [p2 p1]", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "00000000000000000000-corrupt.json")); err != nil {
		t.Fatal("an unreadable file was deleted")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if msg, err := again.Wait(ctx, "judy@example.com"); err == nil {
		t.Fatalf("Wait returned %q from an earlier run", msg.Subject)
	}
}

func TestHandler(t *testing.T) {
	m := start(t, Options{})
	s := sender(t, mail.Config{Addr: m.Addr(), TLS: mail.TLSNone})
	for _, to := range []string{"kim@example.com", "lee@example.com", "Kim@Example.com"} {
		if err := s.SendVerificationCode(context.Background(), to, "123456", 10*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	get := func(query string) (int, []map[string]any) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/_local/mail" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("Content-Type %q", ct)
		}
		var out []map[string]any
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, out
	}
	code, kim := get("?to=KIM%40example.com")
	if code != 200 || len(kim) != 2 {
		t.Fatalf("kim: %d, %d messages", code, len(kim))
	}
	// Newest first, with the fields the console and tests rely on.
	if kim[0]["to"].([]any)[0] != "Kim@Example.com" {
		t.Errorf("first is %v, want the newest", kim[0]["to"])
	}
	for _, field := range []string{"id", "to", "from", "subject", "text", "html", "received_at"} {
		if _, ok := kim[0][field]; !ok {
			t.Errorf("field %q missing", field)
		}
	}
	first, _ := time.Parse(time.RFC3339Nano, kim[0]["received_at"].(string))
	second, _ := time.Parse(time.RFC3339Nano, kim[1]["received_at"].(string))
	if first.Before(second) {
		t.Error("not newest first")
	}
	if _, all := get(""); len(all) != 3 {
		t.Errorf("without to: %d messages, want 3", len(all))
	}
	if _, one := get("?limit=1"); len(one) != 1 {
		t.Errorf("limit=1: %d messages", len(one))
	}
	if code, none := get("?to=nobody%40example.com"); code != 200 || none == nil || len(none) != 0 {
		t.Errorf("no match: %d %v, want 200 []", code, none)
	}
	if code, _ := get("?limit=-1"); code != http.StatusBadRequest {
		t.Errorf("limit=-1: %d", code)
	}
	resp, err := http.Post(srv.URL+"/_local/mail", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}

func TestStartErrors(t *testing.T) {
	m := start(t, Options{})
	if _, err := Start(context.Background(), Options{Addr: m.Addr(), Logger: quiet}); err == nil || !strings.Contains(err.Error(), m.Addr()) {
		t.Fatalf("second mailbox on a taken port: %v", err)
	}
	for _, addr := range []string{"0.0.0.0:2525", ":2525", "192.0.2.1:2525", "example.com:2525"} {
		if _, err := Start(context.Background(), Options{Addr: addr, Logger: quiet}); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Fatalf("Start on %s: %v, want a loopback-only refusal", addr, err)
		}
	}
	if _, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", Username: "u", Logger: quiet}); err == nil {
		t.Fatal("username without password accepted")
	}
	if _, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", AuthMechanisms: []string{"CRAM-MD5"}, Logger: quiet}); err == nil {
		t.Fatal("unsupported mechanism accepted")
	}
	// Cancelling the start context stops the listener.
	ctx, cancel := context.WithCancel(context.Background())
	m2, err := Start(ctx, Options{Addr: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := smtp.Dial(m2.Addr())
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("mailbox still accepting after its context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
