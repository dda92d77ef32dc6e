package httpapi

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/runtime"
)

// hmacVerifier is a small real TokenVerifier: a token is base64url(claims JSON) "."
// base64url(HMAC-SHA256(key, claims)). It checks the signature in constant time and the
// expiry, as shared/auth's JWT verifier does with its own format.
type hmacVerifier struct {
	key []byte
	now func() time.Time
}

type testClaims struct {
	Sub   string   `json:"sub"`
	Tier  string   `json:"tier"`
	Roles []string `json:"roles,omitempty"`
	Exp   int64    `json:"exp"`
}

func (v *hmacVerifier) sign(c testClaims) string {
	payload, _ := json.Marshal(c)
	mac := hmac.New(sha256.New, v.key)
	mac.Write(payload)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (v *hmacVerifier) VerifyAccessToken(token string) (vodfc.Principal, error) {
	p64, s64, ok := strings.Cut(token, ".")
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	sig, err2 := base64.RawURLEncoding.DecodeString(s64)
	if !ok || err1 != nil || err2 != nil {
		return vodfc.Principal{}, errors.New("malformed token")
	}
	mac := hmac.New(sha256.New, v.key)
	mac.Write(payload)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return vodfc.Principal{}, vodfc.Unauthorized("invalid_token", "the access token is not valid")
	}
	var c testClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return vodfc.Principal{}, err
	}
	if v.now().Unix() >= c.Exp {
		return vodfc.Principal{}, vodfc.Unauthorized("token_expired", "the access token has expired")
	}
	p := vodfc.Principal{UserID: c.Sub, Tier: vodfc.Tier(c.Tier)}
	for _, r := range c.Roles {
		p.Roles = append(p.Roles, vodfc.Role(r))
	}
	return p, nil
}

var verifier = &hmacVerifier{key: []byte("test key, 32 bytes long, really"), now: time.Now}

func token(sub string, roles ...string) string {
	return verifier.sign(testClaims{Sub: sub, Tier: "free", Roles: roles, Exp: time.Now().Add(time.Hour).Unix()})
}

// logs captures the default slog logger (through runtime's handler, as in production) for the
// tests of this package, which therefore do not run in parallel.
var (
	logMu  sync.Mutex
	logBuf bytes.Buffer
)

type lockedWriter struct{}

func (lockedWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return logBuf.Write(p)
}

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(runtime.NewLogHandler(lockedWriter{}, "videos", slog.LevelDebug)))
	os.Exit(m.Run())
}

// takeLogs returns and clears the captured log lines.
func takeLogs() []map[string]any {
	logMu.Lock()
	defer logMu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logBuf.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	logBuf.Reset()
	return out
}

func findLog(logs []map[string]any, msg string) map[string]any {
	for _, l := range logs {
		if l["msg"] == msg {
			return l
		}
	}
	return nil
}

// serve runs h on req through the custom runtime's server, so the request carries an
// invocation (request id "req-test") as in FC.
func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	req.Header.Set("x-fc-request-id", "req-test")
	w := httptest.NewRecorder()
	runtime.NewCustomServer(&runtime.Function{HTTP: h}).ServeHTTP(w, req)
	return w
}

func get(h http.Handler, path string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return serve(h, req)
}

func problemOf(t *testing.T, w *httptest.ResponseRecorder) Problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != ProblemContentType {
		t.Fatalf("Content-Type %q, body %s", ct, w.Body)
	}
	var p Problem
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.Status != w.Code || p.Type == "" || p.Title != http.StatusText(w.Code) || p.Code == "" {
		t.Errorf("problem %+v for status %d", p, w.Code)
	}
	return p
}

// customRuntime serves h as FC's custom runtime would.
func customRuntime(h http.Handler) http.Handler {
	return runtime.NewCustomServer(&runtime.Function{HTTP: h})
}
