package accounts

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"vodfc.dev/local/mailbox"
	"vodfc.dev/local/otsemu"
	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/mail"
	"vodfc.dev/vodfc/redis"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
)

// These tests run the real SDKs and protocols against the local emulators, in-process: the
// Tablestore emulator behind the SDK's transport, Redis protocol and Lua scripts on miniredis,
// and real SMTP into the local mailbox. They are started once for the package.
var (
	testDB      *tablestore.Client
	testMini    *miniredis.Miniredis
	testRedis   *redis.Client
	testMailbox *mailbox.Mailbox
	testMail    *mail.Sender
	testSigner  *auth.Signer
	testVerify  *auth.Verifier
	testCodes   *auth.CodeHasher
	testHasher  *auth.PasswordHasher
	testKey     []byte
	testSignKey string
)

const (
	testIssuer   = "https://vodfc.test"
	testAudience = "vodfc-api"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "accounts tests:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	emu, err := otsemu.Open(otsemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", Instance: "vodfc"})
	if err != nil {
		return 0, err
	}
	defer emu.Close()
	testDB, err = tablestore.New(tablestore.Config{Endpoint: "http://ots.test", Instance: "vodfc", Transport: countingTransport{emu.Transport()},
		Credentials: func() (runtime.Credentials, bool) {
			return runtime.Credentials{AccessKeyID: "ak", AccessKeySecret: "sk"}, true
		}})
	if err != nil {
		return 0, err
	}
	if _, err := testDB.Ensure(context.Background(), tablestore.Schema); err != nil {
		return 0, err
	}
	testMini, err = miniredis.Run()
	if err != nil {
		return 0, err
	}
	defer testMini.Close()
	testRedis = redis.New(redis.Config{Addr: testMini.Addr(), Prefix: "test:"})
	defer testRedis.Close()

	testMailbox, err = mailbox.Start(context.Background(), mailbox.Options{Addr: "127.0.0.1:0", Keep: 100000,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return 0, err
	}
	defer testMailbox.Close()
	testMail, err = mail.New(mail.Config{Addr: testMailbox.Addr(), TLS: mail.TLSNone, From: "vodfc <noreply@vodfc.test>"})
	if err != nil {
		return 0, err
	}

	sk, vk, err := auth.GenerateKey()
	if err != nil {
		return 0, err
	}
	testSignKey = sk
	env := map[string]string{auth.EnvSigningKey: sk, auth.EnvVerifyKeys: vk, auth.EnvIssuer: testIssuer, auth.EnvAudience: testAudience}
	getenv := func(k string) string { return env[k] }
	if testSigner, err = auth.LoadSigner(getenv); err != nil {
		return 0, err
	}
	if testVerify, err = auth.LoadVerifier(getenv); err != nil {
		return 0, err
	}
	if testCodes, err = auth.LoadCodeHasher(getenv); err != nil {
		return 0, err
	}
	if testHasher, err = auth.NewPasswordHasher(auth.DefaultArgon2, 0); err != nil {
		return 0, err
	}
	priv, err := auth.ParseSigningKey(sk)
	if err != nil {
		return 0, err
	}
	if testKey, err = DeriveSessionKey(priv); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// testRoundTrips counts the requests testDB sends, so a test can compare the Tablestore work
// of two paths.
var testRoundTrips atomic.Int64

type countingTransport struct{ next http.RoundTripper }

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	testRoundTrips.Add(1)
	return c.next.RoundTrip(r)
}

// fakeClock is the accounts' clock in tests (codes, sessions); tokens and Redis keep real time.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is one Auth + Profiles on the shared emulators, with its own clock and client address.
type env struct {
	t        *testing.T
	auth     *Auth
	profiles *Profiles
	handler  http.Handler
	clock    *fakeClock
	ip       string
}

var ipSeq atomic.Uint32

// nextIP returns a client address no other test uses, so per-IP limits never cross tests.
func nextIP() string {
	n := ipSeq.Add(1)
	return fmt.Sprintf("10.%d.%d.%d", n>>16&0xff, n>>8&0xff, n&0xff)
}

var addrSeq atomic.Uint32

// newAddress returns an address no other test uses.
func newAddress(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%x@example.com", prefix, addrSeq.Add(1), b)
}

func newEnv(t *testing.T, tune ...func(*AuthConfig)) *env {
	t.Helper()
	clock := &fakeClock{t: time.Now()}
	cfg := AuthConfig{DB: testDB, Redis: testRedis, Mail: testMail, Signer: testSigner, Codes: testCodes,
		Passwords: testHasher, SessionKey: testKey, Policy: DefaultPolicy(), Now: clock.Now}
	for _, f := range tune {
		f(&cfg)
	}
	a, err := NewAuth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProfiles(ProfilesConfig{DB: testDB, Verifier: testVerify, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r := httpapi.NewRouter()
	a.Routes(r)
	p.Routes(r)
	return &env{t: t, auth: a, profiles: p, handler: r, clock: clock, ip: nextIP()}
}

// response is a recorded answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.Body, err)
	}
}

// problem is the decoded error body.
func (r response) problem(t *testing.T) httpapi.Problem {
	t.Helper()
	var p httpapi.Problem
	r.json(t, &p)
	return p
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.Status, r.Body) }

// do sends a request from the env's client address; body is JSON-encoded unless it is a
// string (sent as is). hdr are name, value pairs.
func (e *env) do(method, path string, body any, hdr ...string) response {
	e.t.Helper()
	return e.doFrom(e.ip, method, path, body, hdr...)
}

func (e *env) doFrom(ip, method, path string, body any, hdr ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req := httptest.NewRequest(method, path, rd)
	req.RemoteAddr = ip + ":4242"
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, req)
	return response{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

func (e *env) expect(res response, status int, code string) {
	e.t.Helper()
	if res.Status != status {
		e.t.Fatalf("want %d %s, got %s", status, code, res)
	}
	if code != "" {
		if p := res.problem(e.t); p.Code != code {
			e.t.Fatalf("want code %s, got %s", code, res)
		}
	}
}

var codeRE = regexp.MustCompile(`(?m)^\s*(\d{6})\s*$`)

// waitMail returns the next message to addr.
func waitMail(t *testing.T, addr string) mailbox.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := testMailbox.Wait(ctx, addr)
	if err != nil {
		t.Fatalf("no mail to %s: %v", addr, err)
	}
	return m
}

// codeIn returns the code in a message's text body.
func codeIn(t *testing.T, m mailbox.Message) string {
	t.Helper()
	g := codeRE.FindStringSubmatch(m.Text)
	if g == nil {
		t.Fatalf("no code in %q:\n%s", m.Subject, m.Text)
	}
	return g[1]
}

// noMail fails if addr received anything not yet waited for.
func noMail(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if m, err := testMailbox.Wait(ctx, addr); err == nil {
		t.Fatalf("unexpected mail to %s: %s", addr, m.Subject)
	}
}

const testPassword = "correct horse battery staple"

// signUp registers and verifies addr and returns its session.
func (e *env) signUp(addr, password string) Session {
	e.t.Helper()
	e.expect(e.do("POST", "/api/v1/auth/register", map[string]string{"email": addr, "password": password, "nickname": "Tester"}), 202, "")
	code := codeIn(e.t, waitMail(e.t, addr))
	res := e.do("POST", "/api/v1/auth/verify", map[string]string{"email": addr, "code": code})
	if res.Status != 200 {
		e.t.Fatalf("verify: %s", res)
	}
	var s Session
	res.json(e.t, &s)
	return s
}

func (e *env) refresh(token string) response {
	e.t.Helper()
	return e.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": token})
}

func (e *env) me(access string) response {
	e.t.Helper()
	return e.do("GET", "/api/v1/me", nil, "Authorization", "Bearer "+access)
}

// principal verifies an access token as every function would.
func principal(t *testing.T, access string) vodfc.Principal {
	t.Helper()
	p, err := testVerify.VerifyAccessToken(access)
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	return p
}
