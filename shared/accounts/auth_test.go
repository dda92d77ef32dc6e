package accounts

import (
	"encoding/json"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/mail"
	"vodfc.dev/vodfc/tablestore"
)

func TestSignUpVerifyLoginRefreshLogoutReset(t *testing.T) {
	e := newEnv(t)
	addr := newAddress("Flow")
	res := e.do("POST", "/api/v1/auth/register", map[string]string{"email": "  " + addr + " ", "password": testPassword, "nickname": " 小明 "})
	e.expect(res, 202, "")
	if string(res.Body) != `{"status":"verification_sent"}`+"\n" && strings.TrimSpace(string(res.Body)) != `{"status":"verification_sent"}` {
		t.Fatalf("register body %s", res.Body)
	}
	msg := waitMail(t, addr)
	if !strings.Contains(msg.Subject, "verification code") {
		t.Fatalf("first mail is %q", msg.Subject)
	}
	code := codeIn(t, msg)
	if !strings.Contains(msg.HTML, ">"+code+"<") {
		t.Fatal("the code is not in the HTML body")
	}

	// Not verified yet: the right password gets 403, a wrong one 401.
	e.expect(e.do("POST", "/api/v1/auth/login", map[string]string{"email": addr, "password": testPassword}), 403, "email_not_verified")
	e.expect(e.do("POST", "/api/v1/auth/login", map[string]string{"email": addr, "password": "wrong password!"}), 401, "invalid_credentials")

	res = e.do("POST", "/api/v1/auth/verify", map[string]string{"email": strings.ToUpper(addr), "code": code})
	e.expect(res, 200, "")
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("token response Cache-Control %q", res.Header.Get("Cache-Control"))
	}
	var s Session
	res.json(t, &s)
	if s.TokenType != "Bearer" || s.ExpiresIn != 900 || s.AccessToken == "" || s.RefreshToken == "" ||
		s.RefreshExpiresIn < 30*24*3600-5 || s.RefreshExpiresIn > 30*24*3600 {
		t.Fatalf("token pair %+v", s.TokenPair)
	}
	if s.User == nil || s.User.Email != addr || s.User.Nickname != "小明" || s.User.Tier != vodfc.TierFree || s.User.ID == "" ||
		s.User.CreatedAt.IsZero() {
		t.Fatalf("user %+v", s.User)
	}
	p := principal(t, s.AccessToken)
	if p.UserID != s.User.ID || p.Tier != vodfc.TierFree || len(p.Roles) != 0 {
		t.Fatalf("principal %+v", p)
	}

	// Login with the address in another case finds the same account.
	res = e.do("POST", "/api/v1/auth/login", map[string]string{"email": strings.ToUpper(addr[:1]) + addr[1:], "password": testPassword})
	e.expect(res, 200, "")
	var login Session
	res.json(t, &login)
	if login.User.ID != s.User.ID {
		t.Fatalf("login found another account: %+v", login.User)
	}

	res = e.me(login.AccessToken)
	e.expect(res, 200, "")
	var me Me
	res.json(t, &me)
	if me.ID != s.User.ID || me.Email != addr {
		t.Fatalf("me %+v", me)
	}

	res = e.refresh(login.RefreshToken)
	e.expect(res, 200, "")
	var pair TokenPair
	res.json(t, &pair)
	if pair.RefreshToken == login.RefreshToken || pair.AccessToken == "" || principal(t, pair.AccessToken).UserID != s.User.ID {
		t.Fatalf("refresh did not rotate: %+v", pair)
	}
	if pair.RefreshExpiresIn > login.RefreshExpiresIn {
		t.Fatalf("rotation extended the session: %d > %d", pair.RefreshExpiresIn, login.RefreshExpiresIn)
	}

	res = e.do("POST", "/api/v1/auth/logout", map[string]string{"refresh_token": pair.RefreshToken})
	e.expect(res, 204, "")
	e.expect(e.refresh(pair.RefreshToken), 401, "invalid_refresh_token")
	// The verify session is a separate family and still works.
	e.expect(e.refresh(s.RefreshToken), 200, "")

	// Forgot and reset.
	res = e.do("POST", "/api/v1/auth/password/forgot", map[string]string{"email": addr})
	e.expect(res, 202, "")
	reset := waitMail(t, addr)
	if !strings.Contains(reset.Subject, "password reset") {
		t.Fatalf("reset mail is %q", reset.Subject)
	}
	e.expect(e.do("POST", "/api/v1/auth/password/reset", map[string]string{"email": addr, "code": codeIn(t, reset),
		"new_password": "a brand new passphrase"}), 204, "")
	e.expect(e.do("POST", "/api/v1/auth/login", map[string]string{"email": addr, "password": testPassword}), 401, "invalid_credentials")
	e.expect(e.do("POST", "/api/v1/auth/login", map[string]string{"email": addr, "password": "a brand new passphrase"}), 200, "")
}

func TestExpiredCodeIsRefused(t *testing.T) {
	e := newEnv(t)
	addr := newAddress("expired")
	e.expect(e.do("POST", "/api/v1/auth/register", map[string]string{"email": addr, "password": testPassword, "nickname": "x"}), 202, "")
	code := codeIn(t, waitMail(t, addr))
	e.clock.Advance(10*time.Minute + time.Second)
	e.expect(e.do("POST", "/api/v1/auth/verify", map[string]string{"email": addr, "code": code}), 400, "invalid_code")
}

func TestCodeStillWorksJustBeforeItExpires(t *testing.T) {
	e := newEnv(t)
	addr := newAddress("fresh")
	e.expect(e.do("POST", "/api/v1/auth/register", map[string]string{"email": addr, "password": testPassword, "nickname": "x"}), 202, "")
	code := codeIn(t, waitMail(t, addr))
	e.clock.Advance(10*time.Minute - time.Second)
	e.expect(e.do("POST", "/api/v1/auth/verify", map[string]string{"email": addr, "code": code}), 200, "")
}

// wrongCode returns a code that is not code.
func wrongCode(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}

func TestSixthTryIsRefusedEvenWithTheRightCode(t *testing.T) {
	e := newEnv(t)
	addr := newAddress("sixth")
	e.expect(e.do("POST", "/api/v1/auth/register", map[string]string{"email": addr, "password": testPassword, "nickname": "x"}), 202, "")
	code := codeIn(t, waitMail(t, addr))
	for i := 0; i < 5; i++ {
		e.expect(e.do("POST", "/api/v1/auth/verify", map[string]string{"email": addr, "code": wrongCode(code)}), 400, "invalid_code")
	}
	e.expect(e.do("POST", "/api/v1/auth/verify", map[string]string{"email": addr, "code": code}), 400, "invalid_code")
}

func TestFifthTryWithTheRightCodeStillWorks(t *testing.T) {
	e := newEnv(t)
	addr := newAddress("fifth")
	e.expect(e.do("POST", "/api/v1/auth/register", map[string]string{"email": addr, "password": testPassword, "nickname": "x"}), 202, "")
	code := codeIn(t, waitMail(t, addr))
	for i := 0; i < 4; i++ {
		e.expect(e.do("POST", "/api/v1/auth/verify", map[string]string{"email": addr, "code": wrongCode(code)}), 400, "invalid_code")
	}
	e.expect(e.do("POST", "/api/v1/auth/verify", map[string]string{"email": addr, "code": code}), 200, "")
}

func TestParallelGuessesSpendAtMostFiveAttempts(t *testing.T) {
	e := newEnv(t)
	addr := newAddress("parallel")
	e.expect(e.do("POST", "/api/v1/auth/register", map[string]string{"email": addr, "password": testPassword, "nickname": "x"}), 202, "")
	code := codeIn(t, waitMail(t, addr))
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.auth.Verify(t.Context(), addr, wrongCode(code), nextIP())
			if !vodfc.IsCode(err, "invalid_code") {
				t.Errorf("wrong guess: %v", err)
			}
		}()
	}
	wg.Wait()
	row, err := testDB.Get(t.Context(), tablestore.EmailCodes.Name, codeKey(mustAddr(t, addr), auth.PurposeVerifyEmail))
	if err != nil || row == nil {
		t.Fatalf("code row: %v %v", row, err)
	}
	// Twelve racing guesses: attempts counts every one that reached the increment, but only the
	// first five increments were allowed a comparison, so the code is dead now.
	if n := row.Int(colAttempts); n < 5 {
		t.Fatalf("attempts %d after 12 guesses", n)
	}
	e.expect(e.do("POST", "/api/v1/auth/verify", map[string]string{"email": addr, "code": code}), 400, "invalid_code")
}

func mustAddr(t *testing.T, s string) Address {
	t.Helper()
	a, err := ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestReusedCodeIsRefused(t *testing.T) {
	e := newEnv(t)
	addr := newAddress("reused")
	e.expect(e.do("POST", "/api/v1/auth/register", map[string]string{"email": addr, "password": testPassword, "nickname": "x"}), 202, "")
	code := codeIn(t, waitMail(t, addr))
	e.expect(e.do("POST", "/api/v1/auth/verify", map[string]string{"email": addr, "code": code}), 200, "")
	e.expect(e.do("POST", "/api/v1/auth/verify", map[string]string{"email": addr, "code": code}), 400, "invalid_code")

	// A reset code works once too.
	e.expect(e.do("POST", "/api/v1/auth/password/forgot", map[string]string{"email": addr}), 202, "")
	reset := codeIn(t, waitMail(t, addr))
	body := map[string]string{"email": addr, "code": reset, "new_password": "another fine passphrase"}
	e.expect(e.do("POST", "/api/v1/auth/password/reset", body), 204, "")
	e.expect(e.do("POST", "/api/v1/auth/password/reset", body), 400, "invalid_code")
}

func TestCodeWorksOnlyForItsPurposeAndAddress(t *testing.T) {
	e := newEnv(t)
	addr, other := newAddress("purpose"), newAddress("other")
	e.signUp(other, testPassword)
	e.expect(e.do("POST", "/api/v1/auth/register", map[string]string{"email": addr, "password": testPassword, "nickname": "x"}), 202, "")
	code := codeIn(t, waitMail(t, addr))
	// The verification code is no reset code, and no code for another address.
	e.expect(e.do("POST", "/api/v1/auth/password/reset", map[string]string{"email": addr, "code": code, "new_password": "hijacked passphrase"}), 400, "invalid_code")
	e.expect(e.do("POST", "/api/v1/auth/verify", map[string]string{"email": other, "code": code}), 400, "invalid_code")
	e.expect(e.do("POST", "/api/v1/auth/verify", map[string]string{"email": addr, "code": code}), 200, "")
}

func TestNewCodeReplacesTheOldOne(t *testing.T) {
	e := newEnv(t, func(c *AuthConfig) { c.Policy.MailCooldown = time.Millisecond })
	addr := newAddress("replaced")
	e.expect(e.do("POST", "/api/v1/auth/register", map[string]string{"email": addr, "password": testPassword, "nickname": "x"}), 202, "")
	first := codeIn(t, waitMail(t, addr))
	testMini.FastForward(time.Second) // let the cooldown pass
	e.expect(e.do("POST", "/api/v1/auth/verify/resend", map[string]string{"email": addr}), 202, "")
	second := codeIn(t, waitMail(t, addr))
	if first != second {
		e.expect(e.do("POST", "/api/v1/auth/verify", map[string]string{"email": addr, "code": first}), 400, "invalid_code")
	}
	e.expect(e.do("POST", "/api/v1/auth/verify", map[string]string{"email": addr, "code": second}), 200, "")
}

func TestResendInsideTheCooldownIs429WithRetryAfter(t *testing.T) {
	e := newEnv(t)
	addr := newAddress("cooldown")
	e.expect(e.do("POST", "/api/v1/auth/register", map[string]string{"email": addr, "password": testPassword, "nickname": "x"}), 202, "")
	waitMail(t, addr)
	res := e.do("POST", "/api/v1/auth/verify/resend", map[string]string{"email": addr})
	e.expect(res, 429, CodeMailCooldown)
	if ra := res.Header.Get("Retry-After"); ra == "" || ra == "0" || len(ra) > 2 {
		t.Fatalf("Retry-After %q", ra)
	}
	noMail(t, addr)
	// After the cooldown a new code goes out.
	passCooldown()
	e.expect(e.do("POST", "/api/v1/auth/verify/resend", map[string]string{"email": addr}), 202, "")
	if m := waitMail(t, addr); !strings.Contains(m.Subject, "verification code") {
		t.Fatalf("resend sent %q", m.Subject)
	}
}

func TestResendAnswersAlikeForEveryKindOfAddress(t *testing.T) {
	e := newEnv(t)
	verified, unknown := newAddress("verified"), newAddress("unknown")
	e.signUp(verified, testPassword)
	passCooldown()
	a := e.do("POST", "/api/v1/auth/verify/resend", map[string]string{"email": verified})
	b := e.do("POST", "/api/v1/auth/verify/resend", map[string]string{"email": unknown})
	if a.Status != 202 || a.Status != b.Status || string(a.Body) != string(b.Body) {
		t.Fatalf("answers differ: %s / %s", a, b)
	}
	if m := waitMail(t, verified); !strings.Contains(m.Subject, "already have") {
		t.Fatalf("verified account got %q", m.Subject)
	}
	if m := waitMail(t, unknown); !strings.Contains(m.Subject, "No vodfc account") {
		t.Fatalf("unknown address got %q", m.Subject)
	}
}

func TestRegisterAnswersAlikeForKnownAndUnknownAddresses(t *testing.T) {
	e := newEnv(t)
	known, unknown := newAddress("known"), newAddress("unknown")
	e.signUp(known, testPassword)
	passCooldown()
	a := e.do("POST", "/api/v1/auth/register", map[string]string{"email": known, "password": "some other passphrase", "nickname": "Mallory"})
	b := e.do("POST", "/api/v1/auth/register", map[string]string{"email": unknown, "password": "some other passphrase", "nickname": "Mallory"})
	if a.Status != 202 || a.Status != b.Status || string(a.Body) != string(b.Body) {
		t.Fatalf("answers differ: %s / %s", a, b)
	}
	if m := waitMail(t, known); !strings.Contains(m.Subject, "already have") || codeRE.MatchString(m.Text) {
		t.Fatalf("the owner got %q:\n%s", m.Subject, m.Text)
	}
	waitMail(t, unknown)
	// The second sign-up changed nothing: the owner's password still works, the new one not.
	e.expect(e.do("POST", "/api/v1/auth/login", map[string]string{"email": known, "password": "some other passphrase"}), 401, "invalid_credentials")
	e.expect(e.do("POST", "/api/v1/auth/login", map[string]string{"email": known, "password": testPassword}), 200, "")
}

// TestParallelClaimsOfOneAddressLeaveOneOwner races sign-ups for one address at the store:
// the mail cooldown normally turns all but one away earlier, but the address index must stay
// unique on its own, through the conditional put.
func TestParallelClaimsOfOneAddressLeaveOneOwner(t *testing.T) {
	st := &store{db: testDB}
	key := mustAddr(t, newAddress("race")).Key
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []string
	lost := 0
	for range n {
		wg.Go(func() {
			id := vodfc.NewID()
			err := st.claim(t.Context(), key, id, time.Now())
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won = append(won, id)
			case tablestore.IsConditionFailed(err):
				lost++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(won) != 1 || lost != n-1 {
		t.Fatalf("%d claims won, %d lost; want 1 and %d", len(won), lost, n-1)
	}
	if owner, err := st.lookup(t.Context(), key); err != nil || owner != won[0] {
		t.Fatalf("the address belongs to %q (%v), want the winner %q", owner, err, won[0])
	}
}

func TestSignUpOfAPendingAddressKeepsTheFirstPassword(t *testing.T) {
	// Someone signs up with a victim's address and never verifies. The victim's own sign-up
	// must not verify an account whose password the other party chose, nor replace it: the
	// victim gets the notice, and a password reset (which proves the mailbox) takes it over.
	e := newEnv(t)
	victim := newAddress("victim")
	e.expect(e.do("POST", "/api/v1/auth/register", map[string]string{"email": victim, "password": "attacker passphrase", "nickname": "x"}), 202, "")
	waitMail(t, victim)
	passCooldown()
	e.expect(e.doFrom(nextIP(), "POST", "/api/v1/auth/register", map[string]string{"email": victim, "password": testPassword, "nickname": "me"}), 202, "")
	if m := waitMail(t, victim); !strings.Contains(m.Subject, "already have") {
		t.Fatalf("second sign-up got %q", m.Subject)
	}
	e.expect(e.do("POST", "/api/v1/auth/password/forgot", map[string]string{"email": victim}), 202, "")
	code := codeIn(t, waitMail(t, victim))
	e.expect(e.do("POST", "/api/v1/auth/password/reset", map[string]string{"email": victim, "code": code, "new_password": testPassword}), 204, "")
	e.expect(e.do("POST", "/api/v1/auth/login", map[string]string{"email": victim, "password": "attacker passphrase"}), 401, "invalid_credentials")
	// The reset proved the address: the account is verified and the victim's.
	e.expect(e.do("POST", "/api/v1/auth/login", map[string]string{"email": victim, "password": testPassword}), 200, "")
}

func TestLoginAnswersAlikeForKnownAndUnknownAddresses(t *testing.T) {
	e := newEnv(t)
	known, unknown := newAddress("known"), newAddress("unknown")
	e.signUp(known, testPassword)
	a := e.do("POST", "/api/v1/auth/login", map[string]string{"email": known, "password": "not the password"})
	b := e.do("POST", "/api/v1/auth/login", map[string]string{"email": unknown, "password": "not the password"})
	if a.Status != 401 || !sameAnswer(a, b) {
		t.Fatalf("answers differ: %s / %s", a, b)
	}
}

// sameAnswer reports whether two responses say the same: status, and body apart from the
// request id a problem carries.
func sameAnswer(a, b response) bool {
	if a.Status != b.Status {
		return false
	}
	var pa, pb map[string]any
	if json.Unmarshal(a.Body, &pa) != nil || json.Unmarshal(b.Body, &pb) != nil {
		return string(a.Body) == string(b.Body)
	}
	delete(pa, "instance")
	delete(pb, "instance")
	return reflect.DeepEqual(pa, pb)
}

func TestForgotAnswersAlikeForKnownAndUnknownAddresses(t *testing.T) {
	e := newEnv(t)
	known, unknown := newAddress("known"), newAddress("unknown")
	e.signUp(known, testPassword)
	a := e.do("POST", "/api/v1/auth/password/forgot", map[string]string{"email": known})
	b := e.do("POST", "/api/v1/auth/password/forgot", map[string]string{"email": unknown})
	if a.Status != 202 || a.Status != b.Status || string(a.Body) != string(b.Body) {
		t.Fatalf("answers differ: %s / %s", a, b)
	}
	if m := waitMail(t, known); !strings.Contains(m.Subject, "password reset") {
		t.Fatalf("known got %q", m.Subject)
	}
	if m := waitMail(t, unknown); !strings.Contains(m.Subject, "No vodfc account") || codeRE.MatchString(m.Text) {
		t.Fatalf("unknown got %q", m.Subject)
	}
	// Guessing a reset code for the unknown address answers as for a wrong code.
	r1 := e.do("POST", "/api/v1/auth/password/reset", map[string]string{"email": unknown, "code": "123456", "new_password": "some new passphrase"})
	r2 := e.do("POST", "/api/v1/auth/password/reset", map[string]string{"email": known, "code": "123456", "new_password": "some new passphrase"})
	if r1.Status != 400 || !sameAnswer(r1, r2) {
		t.Fatalf("reset guesses differ: %s / %s", r1, r2)
	}
}

func TestEmailNotVerifiedOnlyAfterACorrectPassword(t *testing.T) {
	e := newEnv(t)
	addr := newAddress("pending")
	e.expect(e.do("POST", "/api/v1/auth/register", map[string]string{"email": addr, "password": testPassword, "nickname": "x"}), 202, "")
	waitMail(t, addr)
	e.expect(e.do("POST", "/api/v1/auth/login", map[string]string{"email": addr, "password": "guessing wrong"}), 401, "invalid_credentials")
	e.expect(e.do("POST", "/api/v1/auth/login", map[string]string{"email": addr, "password": testPassword}), 403, "email_not_verified")
}

func TestRegisterValidatesItsInput(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		body map[string]string
		code string
	}{
		{map[string]string{"email": "not-an-address", "password": testPassword, "nickname": "x"}, "invalid_field"},
		{map[string]string{"email": newAddress("v"), "password": "short", "nickname": "x"}, "password_too_short"},
		{map[string]string{"email": newAddress("v"), "password": "password123", "nickname": "x"}, "password_too_common"},
		{map[string]string{"email": newAddress("v"), "password": strings.Repeat("x", 129), "nickname": "x"}, "password_too_long"},
		{map[string]string{"email": newAddress("v"), "password": testPassword, "nickname": "  "}, "invalid_field"},
		{map[string]string{"email": newAddress("v"), "password": testPassword, "nickname": "a\u202eb"}, "invalid_field"},
		{map[string]string{"email": newAddress("v"), "password": testPassword, "nickname": strings.Repeat("名", 33)}, "invalid_field"},
	} {
		e.expect(e.do("POST", "/api/v1/auth/register", tc.body), 400, tc.code)
	}
	// The password must not be the address.
	addr := newAddress("self")
	e.expect(e.do("POST", "/api/v1/auth/register", map[string]string{"email": addr, "password": addr, "nickname": "x"}), 400, "password_too_common")
}

func TestMalformedBodiesAreRefused(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"unknown field", `{"email":"a@example.com","password":"x","nickname":"y","admin":true}`, 400, "unknown_field"},
		{"wrong type", `{"email":42,"password":"x","nickname":"y"}`, 400, "invalid_json"},
		{"not JSON", `email=a@example.com`, 400, "invalid_json"},
		{"two values", `{} {}`, 400, "invalid_json"},
		{"over 64 KiB", `{"email":"a@example.com","password":"` + strings.Repeat("x", 70<<10) + `","nickname":"y"}`, 413, "body_too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.expect(e.do("POST", "/api/v1/auth/register", tc.body), tc.status, tc.code)
		})
	}
	e.t = t
	res := e.do("POST", "/api/v1/auth/login", `{"email":"a@example.com","password":"x"}`, "Content-Type", "text/plain")
	e.expect(res, 415, "unsupported_media_type")
	e.expect(e.do("GET", "/api/v1/auth/login", nil), 405, "")
	e.expect(e.do("POST", "/api/v1/auth/refresh", map[string]string{}), 400, "invalid_field")
}

func TestMailFailureIsA503AndLeavesNothingBehind(t *testing.T) {
	broken, err := newBrokenSender()
	if err != nil {
		t.Fatal(err)
	}
	bad := newEnv(t, func(c *AuthConfig) { c.Mail = broken })
	good := newEnv(t)
	addr := newAddress("nomail")
	res := bad.do("POST", "/api/v1/auth/register", map[string]string{"email": addr, "password": testPassword, "nickname": "x"})
	bad.expect(res, 503, "mail_unavailable")
	if res.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	// Nothing was kept: no address claim, and the cooldown was given back, so a retry through
	// a working mail server signs up normally at once.
	if id, err := (&store{db: testDB}).lookup(t.Context(), mustAddr(t, addr).Key); err != nil || id != "" {
		t.Fatalf("address still claimed by %q (%v)", id, err)
	}
	good.ip = bad.ip
	good.signUp(addr, testPassword)
	// A known address fails the same way.
	bad.expect(bad.do("POST", "/api/v1/auth/register", map[string]string{"email": newAddress("x"), "password": testPassword, "nickname": "x"}), 503, "mail_unavailable")
	passCooldown()
	bad.expect(bad.do("POST", "/api/v1/auth/register", map[string]string{"email": addr, "password": testPassword, "nickname": "x"}), 503, "mail_unavailable")
	bad.expect(bad.do("POST", "/api/v1/auth/password/forgot", map[string]string{"email": addr}), 503, "mail_unavailable")
}

// newBrokenSender is a mail sender whose server refuses connections.
func newBrokenSender() (*mail.Sender, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	return mail.New(mail.Config{Addr: addr, TLS: mail.TLSNone, From: "noreply@vodfc.test", Timeout: 5 * time.Second})
}

// passCooldown lets every mail cooldown (a minute) run out in Redis.
func passCooldown() { testMini.FastForward(61 * time.Second) }
