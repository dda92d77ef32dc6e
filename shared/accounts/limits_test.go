package accounts

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"vodfc.dev/vodfc/redis"
)

func retryAfter(t *testing.T, res response) int {
	t.Helper()
	n, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if err != nil || n < 1 {
		t.Fatalf("Retry-After %q on %s", res.Header.Get("Retry-After"), res)
	}
	return n
}

func TestLoginFailuresPerAccountAre429WithGrowingDelays(t *testing.T) {
	e := newEnv(t)
	addr := newAddress("bruteacct")
	e.signUp(addr, testPassword)
	wrong := map[string]string{"email": addr, "password": "guess number n"}
	// Five free failures, each from another client so only the account's count grows.
	for range 5 {
		e.expect(e.doFrom(nextIP(), "POST", "/api/v1/auth/login", wrong), 401, "invalid_credentials")
	}
	e.expect(e.doFrom(nextIP(), "POST", "/api/v1/auth/login", wrong), 401, "invalid_credentials") // the sixth imposes 1 s
	res := e.doFrom(nextIP(), "POST", "/api/v1/auth/login", map[string]string{"email": addr, "password": testPassword})
	e.expect(res, 429, CodeTooManyLogins)
	first := retryAfter(t, res)
	// The delay grows with each further failure.
	testMini.FastForward(2 * time.Second)
	testMini.SetTime(time.Now().Add(2 * time.Second))
	defer testMini.SetTime(time.Time{})
	e.expect(e.doFrom(nextIP(), "POST", "/api/v1/auth/login", wrong), 401, "invalid_credentials") // the seventh imposes 2 s
	res = e.doFrom(nextIP(), "POST", "/api/v1/auth/login", wrong)
	e.expect(res, 429, CodeTooManyLogins)
	if second := retryAfter(t, res); second <= first {
		t.Fatalf("delays do not grow: %d s then %d s", first, second)
	}
}

func TestLoginFailuresStopAtTheHourlyLimitPerAccount(t *testing.T) {
	e := newEnv(t, func(c *AuthConfig) {
		c.Policy.LoginPerAccount = redis.Backoff{Window: time.Hour, Free: 100, Base: time.Second, Max: time.Minute, Limit: 100}
	})
	addr := newAddress("hundred")
	e.signUp(addr, testPassword)
	ctx := context.Background()
	key := subject("login:addr", mustAddr(t, addr).Key)
	for range 99 {
		if _, _, err := testRedis.Fail(ctx, key, e.auth.limits.p.LoginPerAccount); err != nil {
			t.Fatal(err)
		}
	}
	e.expect(e.doFrom(nextIP(), "POST", "/api/v1/auth/login", map[string]string{"email": addr, "password": "the hundredth"}), 401, "invalid_credentials")
	// The hundredth failure closes the account to logins for the rest of the hour, right
	// password included.
	res := e.doFrom(nextIP(), "POST", "/api/v1/auth/login", map[string]string{"email": addr, "password": testPassword})
	e.expect(res, 429, CodeTooManyLogins)
	if ra := retryAfter(t, res); ra < 3000 {
		t.Fatalf("Retry-After %d s: want the rest of the hour", ra)
	}
}

func TestLoginFailuresPerIPAre429(t *testing.T) {
	e := newEnv(t, func(c *AuthConfig) {
		c.Policy.LoginPerIP = redis.Backoff{Window: time.Hour, Free: 3, Base: 10 * time.Second, Max: time.Minute, Limit: 50}
	})
	// Spraying one password over many addresses: each account sees one failure, the client many.
	for range 4 {
		e.expect(e.do("POST", "/api/v1/auth/login", map[string]string{"email": newAddress("spray"), "password": "Summer2024!"}), 401, "invalid_credentials")
	}
	res := e.do("POST", "/api/v1/auth/login", map[string]string{"email": newAddress("spray"), "password": "Summer2024!"})
	e.expect(res, 429, CodeTooManyLogins)
	retryAfter(t, res)
	// Another client is not affected.
	e.expect(e.doFrom(nextIP(), "POST", "/api/v1/auth/login", map[string]string{"email": newAddress("spray"), "password": "x"}), 401, "invalid_credentials")
}

func TestParallelLoginGuessesCannotOutrunTheBackoff(t *testing.T) {
	e := newEnv(t)
	addr := newAddress("parallel-login")
	e.signUp(addr, testPassword)
	// A burst of parallel guesses, each from its own client address. Without the per-account
	// lock they would all pass the back-off check before the first failure was counted; with
	// it they are checked one at a time, and after the five free failures and the sixth (which
	// imposes a wait) the rest are turned away without a password check.
	const n = 30
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res := e.doFrom(nextIP(), "POST", "/api/v1/auth/login", map[string]string{"email": addr, "password": "parallel guess"})
			mu.Lock()
			statuses[res.Status]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	if statuses[401]+statuses[429] != n {
		t.Fatalf("statuses %v", statuses)
	}
	// Six checked guesses fit before the first wait; allow two more for a machine so slow
	// that the first one-second wait ran out during the burst.
	if statuses[401] > 8 {
		t.Fatalf("%d parallel guesses were checked (statuses %v)", statuses[401], statuses)
	}
}

func TestALoginInProgressTurnsAwayAnotherForTheSameAccount(t *testing.T) {
	e := newEnv(t)
	addr := newAddress("locked")
	e.signUp(addr, testPassword)
	unlock, err := e.auth.limits.lockLogin(t.Context(), mustAddr(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	res := e.do("POST", "/api/v1/auth/login", map[string]string{"email": addr, "password": testPassword})
	e.expect(res, 429, CodeTooManyLogins)
	retryAfter(t, res)
	unlock()
	e.expect(e.do("POST", "/api/v1/auth/login", map[string]string{"email": addr, "password": testPassword}), 200, "")
}

func TestMailsPerAddressAre429(t *testing.T) {
	e := newEnv(t, func(c *AuthConfig) { c.Policy.MailCooldown = time.Millisecond })
	addr := newAddress("flood")
	for range 5 {
		e.expect(e.doFrom(nextIP(), "POST", "/api/v1/auth/password/forgot", map[string]string{"email": addr}), 202, "")
		waitMail(t, addr)
		testMini.FastForward(time.Second)
	}
	res := e.doFrom(nextIP(), "POST", "/api/v1/auth/password/forgot", map[string]string{"email": addr})
	e.expect(res, 429, CodeTooManyMails)
	retryAfter(t, res)
	noMail(t, addr)
}

func TestMailsPerIPAre429(t *testing.T) {
	e := newEnv(t, func(c *AuthConfig) { c.Policy.MailPerIP = redis.Rate{Count: 3, Per: time.Hour, Burst: 3} })
	for range 3 {
		a := newAddress("ipflood")
		e.expect(e.do("POST", "/api/v1/auth/register", map[string]string{"email": a, "password": testPassword, "nickname": "x"}), 202, "")
		waitMail(t, a)
	}
	a := newAddress("ipflood")
	res := e.do("POST", "/api/v1/auth/register", map[string]string{"email": a, "password": testPassword, "nickname": "x"})
	e.expect(res, 429, CodeTooManyMails)
	retryAfter(t, res)
	noMail(t, a)
}

func TestWrongCodesPerIPAre429(t *testing.T) {
	e := newEnv(t, func(c *AuthConfig) {
		c.Policy.CodeFailuresPerIP = redis.Backoff{Window: time.Hour, Free: 3, Base: 10 * time.Second, Max: time.Minute, Limit: 50}
	})
	// Guessing codes across addresses (each with attempts left) is stopped per client.
	for range 4 {
		e.expect(e.do("POST", "/api/v1/auth/verify", map[string]string{"email": newAddress("codes"), "code": "123456"}), 400, "invalid_code")
	}
	res := e.do("POST", "/api/v1/auth/password/reset", map[string]string{"email": newAddress("codes"), "code": "123456", "new_password": "whatever passphrase"})
	e.expect(res, 429, CodeTooManyCodes)
	retryAfter(t, res)
}

func TestLimitsFailClosedWithoutRedis(t *testing.T) {
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	r := redis.New(redis.Config{Addr: m.Addr()})
	defer r.Close()
	e := newEnv(t, func(c *AuthConfig) { c.Redis = r })
	m.Close()
	addr := newAddress("noredis")
	// Each request waits out the client's dial retries, so they run side by side.
	reqs := map[string]map[string]string{
		"/api/v1/auth/register":        {"email": addr, "password": testPassword, "nickname": "x"},
		"/api/v1/auth/login":           {"email": addr, "password": testPassword},
		"/api/v1/auth/password/forgot": {"email": addr},
		"/api/v1/auth/verify":          {"email": addr, "code": "123456"},
	}
	var wg sync.WaitGroup
	results := make(map[string]response, len(reqs))
	var mu sync.Mutex
	for path, body := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := e.do("POST", path, body)
			mu.Lock()
			results[path] = res
			mu.Unlock()
		}()
	}
	wg.Wait()
	for path, res := range results {
		if res.Status != 503 || res.problem(t).Code != "unavailable" {
			t.Errorf("%s without Redis: %s", path, res)
		}
	}
	noMail(t, addr)
}

func TestPolicyIsValidated(t *testing.T) {
	p := DefaultPolicy()
	p.SessionLifetime = 90 * 24 * time.Hour
	p.CodeAttempts = 0
	cfg := AuthConfig{DB: testDB, Redis: testRedis, Mail: testMail, Signer: testSigner, Codes: testCodes,
		Passwords: testHasher, SessionKey: testKey, Policy: p}
	if _, err := NewAuth(cfg); err == nil {
		t.Fatal("a policy with a 90-day session and no code attempts was accepted")
	}
	cfg.Policy = Policy{}
	cfg.AdminEmails = []string{"not an address"}
	if _, err := NewAuth(cfg); err == nil {
		t.Fatal("a malformed admin address was accepted")
	}
	cfg.AdminEmails = nil
	cfg.SessionKey = nil
	if _, err := NewAuth(cfg); err == nil {
		t.Fatal("a missing session key was accepted")
	}
}
