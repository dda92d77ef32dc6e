package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"vodfc.dev/local/cloud"
)

// The end-to-end test drives the local cloud like a client: the gateway routes to the real
// auth and users binaries (built from s.yaml, run under the emulated custom runtime), which
// talk to the Tablestore emulator, Redis and the mail sink; the codes are read back from the
// sink's /_local/mail, as a developer would.
var (
	cl       *cloud.Cloud
	cloudLog = &cloud.Log{}
)

// adminAddress is in the cloud's ADMIN_EMAILS.
const adminAddress = "root@vodfc.test"

func TestMain(m *testing.M) {
	flag.Parse()
	opts := cloud.Ephemeral("../../s.yaml", "vodfc-auth", "vodfc-users")
	opts.Log = cloudLog
	opts.Getenv = func(k string) string {
		if k == "ADMIN_EMAILS" {
			return adminAddress
		}
		return "" // secrets are made by the cloud; nothing of the developer's shell leaks in
	}
	os.Exit(cloud.RunTests(m, opts, func(c *cloud.Cloud) error { cl = c; return nil }))
}

var client = &http.Client{Timeout: time.Minute}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r, err)
	}
}

func call(t *testing.T, method, path string, body any, bearer string) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, cl.GatewayURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{status: res.StatusCode, header: res.Header, body: b}
}

func want(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("want %d %s, got %s", status, code, r)
	}
	if code != "" {
		var p struct {
			Code string `json:"code"`
		}
		r.decode(t, &p)
		if p.Code != code {
			t.Fatalf("want code %s, got %s", code, r)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("error Content-Type %q", ct)
		}
	}
}

var codeRE = regexp.MustCompile(`(?m)^\s*(\d{6})\s*$`)

// mailbox reads the local cloud's mail sink over HTTP, remembering what it has seen.
type mailbox struct {
	seen map[string]int
}

type message struct {
	Subject string `json:"subject"`
	Text    string `json:"text"`
}

// next waits for a new message to addr and returns it.
func (m *mailbox) next(t *testing.T, addr string) message {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := call(t, "GET", "/_local/mail?to="+url.QueryEscape(addr), nil, "")
		var msgs []message // newest first
		r.decode(t, &msgs)
		if len(msgs) > m.seen[addr] {
			m.seen[addr]++
			return msgs[len(msgs)-m.seen[addr]]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new mail to %s (%d seen)", addr, m.seen[addr])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (m *mailbox) code(t *testing.T, addr string) string {
	t.Helper()
	msg := m.next(t, addr)
	g := codeRE.FindStringSubmatch(msg.Text)
	if g == nil {
		t.Fatalf("no code in %q:\n%s", msg.Subject, msg.Text)
	}
	return g[1]
}

type session struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresIn int    `json:"refresh_expires_in"`
	User             struct {
		ID, Email, Nickname, Tier string
		CreatedAt                 time.Time `json:"created_at"`
	} `json:"user"`
}

// claims reads an access token's payload (the signature was checked by the functions).
func claims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func signUp(t *testing.T, mb *mailbox, addr, password, nickname string) session {
	t.Helper()
	r := call(t, "POST", "/api/v1/auth/register", map[string]string{"email": addr, "password": password, "nickname": nickname}, "")
	want(t, r, 202, "")
	if strings.TrimSpace(string(r.body)) != `{"status":"verification_sent"}` {
		t.Fatalf("register body %s", r.body)
	}
	code := mb.code(t, addr)
	r = call(t, "POST", "/api/v1/auth/verify", map[string]string{"email": addr, "code": code}, "")
	want(t, r, 200, "")
	var s session
	r.decode(t, &s)
	return s
}

// The admin address is fixed when the cloud starts, so it signs up once per test process
// and logs in afterwards (go test -count=N runs the tests again on the same cloud).
var (
	adminOnce     sync.Once
	adminPassword = "the admins long passphrase"
)

func adminSession(t *testing.T, mb *mailbox) session {
	t.Helper()
	adminOnce.Do(func() { signUp(t, mb, adminAddress, adminPassword, "Root") })
	r := call(t, "POST", "/api/v1/auth/login", map[string]string{"email": adminAddress, "password": adminPassword}, "")
	want(t, r, 200, "")
	var s session
	r.decode(t, &s)
	return s
}

func TestAccountLifecycleThroughTheLocalCloud(t *testing.T) {
	mb := &mailbox{seen: map[string]int{}}
	addr := fmt.Sprintf("alice-%d@example.com", time.Now().UnixNano())
	const password = "correct horse battery staple"

	s := signUp(t, mb, addr, password, "Alice")
	if s.TokenType != "Bearer" || s.ExpiresIn != 900 || s.User.Email != addr || s.User.Tier != "free" || s.RefreshExpiresIn < 30*24*3600-60 {
		t.Fatalf("session %+v", s)
	}
	c := claims(t, s.AccessToken)
	if c["sub"] != s.User.ID || c["tier"] != "free" || c["iss"] == nil || c["aud"] == nil || c["jti"] == nil {
		t.Fatalf("claims %v", c)
	}

	// Resending inside the minute after the sign-up is refused with a wait.
	r := call(t, "POST", "/api/v1/auth/verify/resend", map[string]string{"email": addr}, "")
	want(t, r, 429, "mail_cooldown")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}

	r = call(t, "POST", "/api/v1/auth/login", map[string]string{"email": addr, "password": password}, "")
	want(t, r, 200, "")
	var login session
	r.decode(t, &login)

	r = call(t, "GET", "/api/v1/me", nil, login.AccessToken)
	want(t, r, 200, "")
	var me struct{ ID, Email, Nickname, Tier string }
	r.decode(t, &me)
	if me.ID != s.User.ID || me.Email != addr || me.Nickname != "Alice" {
		t.Fatalf("me %+v", me)
	}
	want(t, call(t, "GET", "/api/v1/me", nil, login.RefreshToken), 401, "invalid_token")
	want(t, call(t, "GET", "/api/v1/me", nil, ""), 401, "authentication_required")

	r = call(t, "PATCH", "/api/v1/me", map[string]string{"bio": "我喜欢看视频"}, login.AccessToken)
	want(t, r, 200, "")
	r = call(t, "GET", "/api/v1/users/"+s.User.ID, nil, "")
	want(t, r, 200, "")
	if strings.Contains(string(r.body), addr) || !strings.Contains(string(r.body), "我喜欢看视频") {
		t.Fatalf("public profile %s", r.body)
	}

	r = call(t, "POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": login.RefreshToken}, "")
	want(t, r, 200, "")
	var pair session
	r.decode(t, &pair)
	if pair.RefreshToken == login.RefreshToken {
		t.Fatal("refresh did not rotate")
	}
	want(t, call(t, "GET", "/api/v1/me", nil, pair.AccessToken), 200, "")

	want(t, call(t, "POST", "/api/v1/auth/logout", map[string]string{"refresh_token": pair.RefreshToken}, ""), 204, "")
	want(t, call(t, "POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken}, ""), 401, "invalid_refresh_token")

	// Forgot and reset: the reset ends every session, including the one from verification.
	want(t, call(t, "POST", "/api/v1/auth/password/forgot", map[string]string{"email": addr}, ""), 202, "")
	code := mb.code(t, addr)
	want(t, call(t, "POST", "/api/v1/auth/password/reset", map[string]string{"email": addr, "code": code, "new_password": "a whole new passphrase"}, ""), 204, "")
	want(t, call(t, "POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": s.RefreshToken}, ""), 401, "invalid_refresh_token")
	want(t, call(t, "POST", "/api/v1/auth/login", map[string]string{"email": addr, "password": password}, ""), 401, "invalid_credentials")
	r = call(t, "POST", "/api/v1/auth/login", map[string]string{"email": addr, "password": "a whole new passphrase"}, "")
	want(t, r, 200, "")
	var after session
	r.decode(t, &after)

	// An admin (ADMIN_EMAILS) makes Alice a member; her next access token says so.
	admin := adminSession(t, mb)
	if roles, _ := claims(t, admin.AccessToken)["roles"].([]any); len(roles) != 1 || roles[0] != "admin" {
		t.Fatalf("admin token roles %v", claims(t, admin.AccessToken)["roles"])
	}
	tierPath := "/api/v1/admin/users/" + s.User.ID + "/tier"
	want(t, call(t, "PUT", tierPath, map[string]string{"tier": "member"}, after.AccessToken), 403, "role_required")
	want(t, call(t, "PUT", tierPath, map[string]string{"tier": "member"}, admin.AccessToken), 200, "")
	r = call(t, "POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": after.RefreshToken}, "")
	want(t, r, 200, "")
	r.decode(t, &pair)
	if tier := claims(t, pair.AccessToken)["tier"]; tier != "member" {
		t.Fatalf("the next access token has tier %v", tier)
	}
}

func TestEnumerationResistantAnswersThroughTheLocalCloud(t *testing.T) {
	mb := &mailbox{seen: map[string]int{}}
	known := fmt.Sprintf("bob-%d@example.com", time.Now().UnixNano())
	unknown := fmt.Sprintf("nobody-%d@example.com", time.Now().UnixNano())
	signUp(t, mb, known, "bobs long passphrase", "Bob")

	a := call(t, "POST", "/api/v1/auth/login", map[string]string{"email": known, "password": "wrong passphrase"}, "")
	b := call(t, "POST", "/api/v1/auth/login", map[string]string{"email": unknown, "password": "wrong passphrase"}, "")
	want(t, a, 401, "invalid_credentials")
	want(t, b, 401, "invalid_credentials")

	a = call(t, "POST", "/api/v1/auth/password/forgot", map[string]string{"email": known}, "")
	b = call(t, "POST", "/api/v1/auth/password/forgot", map[string]string{"email": unknown}, "")
	if a.status != 202 || a.status != b.status || string(a.body) != string(b.body) {
		t.Fatalf("forgot answers differ: %s / %s", a, b)
	}
	if m := mb.next(t, known); !strings.Contains(m.Subject, "password reset") {
		t.Fatalf("known address got %q", m.Subject)
	}
	if m := mb.next(t, unknown); !strings.Contains(m.Subject, "No vodfc account") {
		t.Fatalf("unknown address got %q", m.Subject)
	}
	// Malformed input is a clear 400, never a 500.
	r := call(t, "POST", "/api/v1/auth/register", map[string]any{"email": known, "password": 12345678, "nickname": "x"}, "")
	want(t, r, 400, "invalid_json")
	r = call(t, "POST", "/api/v1/auth/login", map[string]any{"email": known, "password": "x", "remember": true}, "")
	want(t, r, 400, "unknown_field")
}

// TestCodesAndSessionsAgeWithTheLocalClock moves the local cloud's clock forward, as a
// developer would with POST /_local/clock: an 11-minute-old code no longer works and a
// 30-day-old session cannot be refreshed.
func TestCodesAndSessionsAgeWithTheLocalClock(t *testing.T) {
	mb := &mailbox{seen: map[string]int{}}
	addr := fmt.Sprintf("carol-%d@example.com", time.Now().UnixNano())
	s := signUp(t, mb, addr, "carols long passphrase", "Carol")

	want(t, call(t, "POST", "/api/v1/auth/password/forgot", map[string]string{"email": addr}, ""), 202, "")
	code := mb.code(t, addr)
	advance(t, "11m")
	want(t, call(t, "POST", "/api/v1/auth/password/reset", map[string]string{"email": addr, "code": code, "new_password": "never set passphrase"}, ""), 400, "invalid_code")

	r := call(t, "POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": s.RefreshToken}, "")
	want(t, r, 200, "")
	var pair session
	r.decode(t, &pair)
	advance(t, "721h")
	want(t, call(t, "POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken}, ""), 401, "invalid_refresh_token")
}

func advance(t *testing.T, d string) {
	t.Helper()
	r := call(t, "POST", "/_local/clock", map[string]string{"advance": d}, "")
	if r.status != 200 {
		t.Fatalf("advancing the clock: %s", r)
	}
}

// TestForgedForwardedForDoesNotEscapeTheIPLimit sprays wrong passwords over many addresses,
// each request claiming another client address in X-Forwarded-For. The platform (fcemu, as
// FC's front end) appends the real peer, and only that entry is believed, so the spray runs
// into the per-IP limit all the same. Afterwards it moves the local clock past the limit's
// hour, so the client it throttled is free again for whatever runs next.
func TestForgedForwardedForDoesNotEscapeTheIPLimit(t *testing.T) {
	t.Cleanup(func() { advance(t, "61m") })
	var last reply
	for i := range 40 {
		body, _ := json.Marshal(map[string]string{"email": fmt.Sprintf("spray-%d-%d@example.com", i, time.Now().UnixNano()), "password": "Summer2024!"})
		req, _ := http.NewRequest("POST", cl.GatewayURL+"/api/v1/auth/login", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		last = reply{status: res.StatusCode, header: res.Header, body: b}
		if res.StatusCode == 429 {
			break
		}
		if res.StatusCode != 401 {
			t.Fatalf("spray %d: %s", i, last)
		}
	}
	want(t, last, 429, "too_many_login_attempts")
	if last.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
}
