package accounts

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestUnverifiedAccountsOlderThanTheCutoffGoWithTheirAddress(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	// Accounts made ten days ago (other tests' accounts are younger than the cutoff).
	e.clock.Advance(-10 * 24 * time.Hour)
	stale, kept := newAddress("Stale"), newAddress("Kept")
	for _, a := range []string{stale, kept} {
		e.expect(e.do("POST", "/api/v1/auth/register", map[string]string{"email": a, "password": testPassword, "nickname": "n"}), 202, "")
	}
	waitMail(t, stale)
	code := codeIn(t, waitMail(t, kept))
	e.expect(e.do("POST", "/api/v1/auth/verify", map[string]string{"email": kept, "code": code}), 200, "")
	e.clock.Advance(10 * 24 * time.Hour)
	recent := newAddress("Recent")
	e.expect(e.do("POST", "/api/v1/auth/register", map[string]string{"email": recent, "password": testPassword, "nickname": "n"}), 202, "")
	waitMail(t, recent)

	s := &store{db: testDB}
	ids := map[string]string{}
	for _, a := range []string{stale, kept, recent} {
		id, err := s.lookup(ctx, mustAddr(t, a).Key)
		if err != nil || id == "" {
			t.Fatalf("%s: %q %v", a, id, err)
		}
		ids[a] = id
	}
	cutoff := e.clock.Now().Add(-7 * 24 * time.Hour)
	n, err := DeleteUnverified(ctx, testDB, cutoff, nil)
	if err != nil || n != 1 {
		t.Fatalf("removed %d: %v", n, err)
	}
	if a, _ := s.account(ctx, ids[stale]); a != nil {
		t.Fatal("the stale unverified account is still there")
	}
	if id, _ := s.lookup(ctx, mustAddr(t, stale).Key); id != "" {
		t.Fatal("its address row is still there")
	}
	for _, a := range []string{kept, recent} {
		if acct, _ := s.account(ctx, ids[a]); acct == nil {
			t.Fatalf("%s was removed", a)
		}
	}
	// Again: nothing more to do.
	if n, err := DeleteUnverified(ctx, testDB, cutoff, nil); err != nil || n != 0 {
		t.Fatalf("second sweep removed %d: %v", n, err)
	}
	// The address is free: signing up again is a new sign-up, with a new code.
	passCooldown()
	e.expect(e.do("POST", "/api/v1/auth/register", map[string]string{"email": stale, "password": testPassword, "nickname": "n"}), 202, "")
	if m := waitMail(t, stale); !strings.Contains(m.Subject, "verification code") {
		t.Fatalf("signing up again got %q", m.Subject)
	}
}
