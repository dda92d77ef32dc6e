package accounts

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/redis"
	"vodfc.dev/vodfc/tablestore"
)

// timingSamples is how many requests of each kind one measurement makes.
const timingSamples = 30

// maxMedianGap is how far apart the median times for known and unknown addresses may be.
const maxMedianGap = 5 * time.Millisecond

// TestRegisterLoginForgotTimingAlikeForKnownAndUnknownAddresses proves that the time of an
// answer does not tell whether an address has an account: for register, login (wrong
// password) and forgot, the median times over interleaved requests for known and unknown
// addresses are within 5 ms. It is statistical: requests alternate in random order over real
// HTTP, the medians ignore outliers, and a measurement that misses is repeated once with
// fresh addresses before the test fails, since the machine is shared with other tests.
func TestRegisterLoginForgotTimingAlikeForKnownAndUnknownAddresses(t *testing.T) {
	wide := func(c *AuthConfig) {
		lots := redis.Rate{Count: 1 << 20, Per: time.Hour, Burst: 1 << 20}
		c.Policy.MailPerIP, c.Policy.MailPerAddress = lots, lots
		c.Policy.LoginPerIP = redis.Backoff{Window: time.Hour, Free: 1 << 20, Base: time.Second, Max: time.Second, Limit: 1 << 21}
		c.Policy.LoginPerAccount = c.Policy.LoginPerIP
	}
	e := newEnv(t, wide)
	srv := httptest.NewServer(e.handler)
	defer srv.Close()
	client := srv.Client()

	// Known accounts are written directly (one hash for all), so setting them up costs no
	// sign-up and starts no mail cooldown.
	hash, err := testHasher.Hash(t.Context(), testPassword)
	if err != nil {
		t.Fatal(err)
	}
	st := &store{db: testDB}
	known := make([]string, 2*timingSamples)
	for i := range known {
		known[i] = newAddress("timing-known")
		a := mustAddr(t, known[i])
		acct := &account{ID: vodfc.NewID(), Email: a.Mailbox, Nickname: "k", Password: hash, Tier: "free", CreatedAt: time.Now()}
		if err := st.claim(t.Context(), a.Key, acct.ID, acct.CreatedAt); err != nil {
			t.Fatal(err)
		}
		if err := testDB.BatchWrite(t.Context(), []tablestore.Write{newAccountWrite(acct)}); err != nil {
			t.Fatal(err)
		}
	}
	post := func(path string, body any) (int, []byte, time.Duration) {
		b, _ := json.Marshal(body)
		start := time.Now()
		res, err := client.Post(srv.URL+path, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res.StatusCode, out, time.Since(start)
	}
	cases := []struct {
		name, path string
		status     int
		body       func(addr string) any
	}{
		{"register", "/api/v1/auth/register", 202, func(a string) any {
			return map[string]string{"email": a, "password": "timing passphrase", "nickname": "t"}
		}},
		{"login", "/api/v1/auth/login", 401, func(a string) any { return map[string]string{"email": a, "password": "wrong passphrase"} }},
		{"forgot", "/api/v1/auth/password/forgot", 202, func(a string) any { return map[string]string{"email": a} }},
	}
	// Warm up: connections, argon2's memory, the emulator's tables.
	for _, c := range cases {
		post(c.path, c.body(newAddress("warm")))
	}
	for _, c := range cases {
		var gap, mk, mu time.Duration
		for round := range 2 {
			var kt, ut []time.Duration
			var kBody, uBody []byte
			for i := range timingSamples {
				knownAddr, unknownAddr := known[round*timingSamples+i], newAddress("timing-unknown")
				first, second := knownAddr, unknownAddr
				swapped := rand.IntN(2) == 0
				if swapped {
					first, second = second, first
				}
				s1, b1, d1 := post(c.path, c.body(first))
				s2, b2, d2 := post(c.path, c.body(second))
				if s1 != c.status || s2 != c.status {
					t.Fatalf("%s: statuses %d %d: %s %s", c.name, s1, s2, b1, b2)
				}
				if swapped {
					d1, d2, b1, b2 = d2, d1, b2, b1
				}
				kt, ut = append(kt, d1), append(ut, d2)
				kBody, uBody = b1, b2
			}
			if !sameAnswer(response{Status: c.status, Body: kBody}, response{Status: c.status, Body: uBody}) {
				t.Fatalf("%s: bodies differ: %s / %s", c.name, kBody, uBody)
			}
			mk, mu = median(kt), median(ut)
			gap = mk - mu
			if gap < 0 {
				gap = -gap
			}
			t.Logf("%s round %d: median known %v, unknown %v, gap %v", c.name, round+1, mk, mu, gap)
			if gap <= maxMedianGap {
				break
			}
		}
		if gap > maxMedianGap {
			t.Errorf("%s: median times for known (%v) and unknown (%v) addresses differ by %v > %v", c.name, mk, mu, gap, maxMedianGap)
		}
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
