package accounts

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/redis"
)

// Policy holds the lifetimes and limits of accounts. DefaultPolicy is what the functions run
// with; tests shrink or widen single fields.
type Policy struct {
	// CodeTTL is how long an emailed code works; CodeAttempts how many guesses it takes.
	CodeTTL      time.Duration
	CodeAttempts int
	// MailCooldown is the least time between two mails of one purpose to one address
	// (register and resend share the verification purpose).
	MailCooldown time.Duration
	// MailPerAddress and MailPerIP bound mails sent, whatever their purpose.
	MailPerAddress redis.Rate
	MailPerIP      redis.Rate
	// LoginPerAccount and LoginPerIP slow down and then stop wrong passwords.
	LoginPerAccount redis.Backoff
	LoginPerIP      redis.Backoff
	// LoginLock bounds how long one login attempt holds its account's lock (see lockLogin).
	LoginLock time.Duration
	// CodeFailuresPerIP slows down wrong codes from one client across addresses.
	CodeFailuresPerIP redis.Backoff
	// SessionLifetime is the absolute lifetime of a refresh-token family.
	SessionLifetime time.Duration
	// RefreshGrace is how long a rotated refresh token still yields the same child (a
	// response lost on the way) before using it again counts as reuse.
	RefreshGrace time.Duration
}

// DefaultPolicy returns the limits the product runs with.
func DefaultPolicy() Policy {
	return Policy{
		CodeTTL:      10 * time.Minute,
		CodeAttempts: 5,
		MailCooldown: 60 * time.Second,
		// Five mails at once, then one every 2.4 hours: enough for a person fumbling, too few
		// to flood a mailbox or to farm codes for guessing.
		MailPerAddress: redis.Rate{Count: 10, Per: 24 * time.Hour, Burst: 5},
		// Generous: many Chinese users share an address behind carrier-grade NAT.
		MailPerIP: redis.Rate{Count: 60, Per: time.Hour, Burst: 20},
		// ≤ 100 wrong passwords per account per hour: five free, then 1 s, 2 s, 4 s ... up to
		// a minute between attempts, and none after the hundredth until the hour is over.
		LoginPerAccount: redis.Backoff{Window: time.Hour, Free: 5, Base: time.Second, Max: time.Minute, Limit: 100},
		LoginPerIP:      redis.Backoff{Window: time.Hour, Free: 20, Base: time.Second, Max: 30 * time.Second, Limit: 300},
		LoginLock:       10 * time.Second,
		CodeFailuresPerIP: redis.Backoff{Window: time.Hour, Free: 10, Base: time.Second, Max: time.Minute,
			Limit: 100},
		SessionLifetime: 30 * 24 * time.Hour,
		RefreshGrace:    10 * time.Second,
	}
}

func (p Policy) validate() error {
	var errs []error
	if p.CodeTTL < time.Minute || p.CodeTTL > time.Hour {
		errs = append(errs, errors.New("code lifetime must be 1 minute to 1 hour"))
	}
	if p.CodeAttempts < 1 {
		errs = append(errs, errors.New("codes need at least one attempt"))
	}
	if p.SessionLifetime <= 0 || p.SessionLifetime > 59*24*time.Hour {
		errs = append(errs, errors.New("session lifetime must be positive and under the refresh tables' 60-day TTL"))
	}
	if p.RefreshGrace < 0 || p.RefreshGrace > time.Minute {
		errs = append(errs, errors.New("refresh grace must be 0 to 1 minute"))
	}
	if p.LoginLock <= 0 {
		errs = append(errs, errors.New("login lock must be positive"))
	}
	for name, r := range map[string]redis.Rate{"mail per address": p.MailPerAddress, "mail per IP": p.MailPerIP} {
		if r.Count <= 0 || r.Per <= 0 {
			errs = append(errs, fmt.Errorf("%s: rate must be positive", name))
		}
	}
	for name, b := range map[string]redis.Backoff{"login per account": p.LoginPerAccount, "login per IP": p.LoginPerIP,
		"code failures per IP": p.CodeFailuresPerIP} {
		if b.Window <= 0 || b.Limit <= 0 || b.Base <= 0 || b.Max < b.Base {
			errs = append(errs, fmt.Errorf("%s: back-off needs a window, a limit, a base and a max ≥ base", name))
		}
	}
	return errors.Join(errs...)
}

// Stable codes of the 429 answers.
const (
	CodeTooManyLogins = "too_many_login_attempts"
	CodeTooManyCodes  = "too_many_code_attempts"
	CodeMailCooldown  = "mail_cooldown"
	CodeTooManyMails  = "too_many_emails"
)

// limiter applies Policy's limits in Redis. Keys never hold an address or an IP in clear:
// a hash is enough to count by and keeps personal data out of the cache.
type limiter struct {
	r *redis.Client
	p Policy
}

func subject(kind, value string) string {
	sum := sha256.Sum256([]byte(value))
	return "acct:" + kind + ":" + base64.RawURLEncoding.EncodeToString(sum[:12])
}

// unavailable reports a Redis failure. The limits fail closed: without them the product could
// be brute-forced or made to spam, so a Redis outage refuses these requests (503) instead.
func unavailable(err error) error {
	return &vodfc.Error{Kind: vodfc.KindUnavailable, Code: "unavailable", RetryAfter: 5 * time.Second,
		Message: "service temporarily unavailable", Cause: fmt.Errorf("accounts: limits: %w", err)}
}

func limited(code, message string, wait time.Duration) error {
	e := vodfc.RateLimited(code, wait)
	e.Message = message
	return e
}

// mail spends one mail of purpose to addr from ip: the per-IP and per-address rates, then the
// cooldown. It returns a function that gives the cooldown back, for a mail that could not be
// sent after all.
func (l *limiter) mail(ctx context.Context, purpose auth.CodePurpose, addr Address, ip string) (undo func(), err error) {
	d, err := l.r.Allow(ctx, subject("mail:ip", ip), l.p.MailPerIP)
	if err != nil {
		return nil, unavailable(err)
	}
	if !d.Allowed {
		return nil, limited(CodeTooManyMails, "too many emails were requested from your network; try again later", d.RetryAfter)
	}
	d, err = l.r.Allow(ctx, subject("mail:addr", addr.Key), l.p.MailPerAddress)
	if err != nil {
		return nil, unavailable(err)
	}
	if !d.Allowed {
		return nil, limited(CodeTooManyMails, "too many emails were sent to this address; try again later", d.RetryAfter)
	}
	cooldown := subject("mail:cooldown:"+string(purpose), addr.Key)
	d, err = l.r.Cooldown(ctx, cooldown, l.p.MailCooldown)
	if err != nil {
		return nil, unavailable(err)
	}
	if !d.Allowed {
		return nil, limited(CodeMailCooldown, "an email was sent to this address moments ago; wait before asking for another", d.RetryAfter)
	}
	return func() { _ = l.r.ClearCooldown(context.WithoutCancel(ctx), cooldown) }, nil
}

// loginAllowed refuses a login while the account or the client is serving a back-off.
func (l *limiter) loginAllowed(ctx context.Context, addr Address, ip string) error {
	for _, key := range []string{subject("login:addr", addr.Key), subject("login:ip", ip)} {
		wait, err := l.r.Check(ctx, key)
		if err != nil {
			return unavailable(err)
		}
		if wait > 0 {
			return limited(CodeTooManyLogins, "too many failed logins; wait before trying again", wait)
		}
	}
	return nil
}

// lockLogin lets one login attempt per account run at a time. Without it a burst of parallel
// guesses would all pass loginAllowed before the first failure is counted, and the growing
// delays would never apply. The lock expires by itself should the instance die holding it.
func (l *limiter) lockLogin(ctx context.Context, addr Address) (unlock func(), err error) {
	key := subject("login:lock", addr.Key)
	d, err := l.r.Cooldown(ctx, key, l.p.LoginLock)
	if err != nil {
		return nil, unavailable(err)
	}
	if !d.Allowed {
		return nil, limited(CodeTooManyLogins, "another login for this account is in progress; try again in a moment", time.Second)
	}
	return func() { _ = l.r.ClearCooldown(context.WithoutCancel(ctx), key) }, nil
}

// loginFailed counts a wrong password against the account and the client.
func (l *limiter) loginFailed(ctx context.Context, addr Address, ip string) {
	_, _, err1 := l.r.Fail(ctx, subject("login:addr", addr.Key), l.p.LoginPerAccount)
	_, _, err2 := l.r.Fail(ctx, subject("login:ip", ip), l.p.LoginPerIP)
	if err := errors.Join(err1, err2); err != nil {
		logWarn(ctx, "counting a failed login", err)
	}
}

// loginSucceeded forgives the account's failures. The client's stay: an attacker holding one
// valid account must not be able to wipe its count by logging into it between guesses.
func (l *limiter) loginSucceeded(ctx context.Context, addr Address) {
	if err := l.r.Forget(ctx, subject("login:addr", addr.Key)); err != nil {
		logWarn(ctx, "clearing login failures", err)
	}
}

// codeAllowed refuses code checks from a client serving a back-off for wrong codes.
func (l *limiter) codeAllowed(ctx context.Context, ip string) error {
	wait, err := l.r.Check(ctx, subject("code:ip", ip))
	if err != nil {
		return unavailable(err)
	}
	if wait > 0 {
		return limited(CodeTooManyCodes, "too many wrong codes; wait before trying again", wait)
	}
	return nil
}

func (l *limiter) codeFailed(ctx context.Context, ip string) {
	if _, _, err := l.r.Fail(ctx, subject("code:ip", ip), l.p.CodeFailuresPerIP); err != nil {
		logWarn(ctx, "counting a wrong code", err)
	}
}
