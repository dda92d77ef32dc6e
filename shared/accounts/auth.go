package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/mail"
	"vodfc.dev/vodfc/redis"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
)

// AuthConfig is what Auth needs; every field but Policy, ProxyHops and Now is required.
type AuthConfig struct {
	DB        *tablestore.Client
	Redis     *redis.Client
	Mail      *mail.Sender
	Signer    *auth.Signer
	Codes     *auth.CodeHasher
	Passwords *auth.PasswordHasher
	// SessionKey derives refresh-token children (DeriveSessionKey); 32 bytes of secret.
	SessionKey []byte
	// AdminEmails get the admin role in their access tokens (ADMIN_EMAILS), matched on the
	// normalised address when a token is issued.
	AdminEmails []string
	// Policy holds lifetimes and limits; DefaultPolicy when zero.
	Policy Policy
	// ProxyHops says which X-Forwarded-For entry is the client (see httpapi.ClientIP).
	ProxyHops int
	// Now replaces the clock in tests.
	Now func() time.Time
}

// Auth serves sign-up, verification, login, sessions and password reset: the auth function.
type Auth struct {
	store     store
	codes     codes
	sessions  sessions
	limits    limiter
	mail      *mail.Sender
	signer    *auth.Signer
	passwords *auth.PasswordHasher
	admins    map[string]bool
	proxyHops int
	now       func() time.Time
}

// NewAuth checks cfg and returns an Auth.
func NewAuth(cfg AuthConfig) (*Auth, error) {
	var errs []error
	if cfg.DB == nil || cfg.Redis == nil || cfg.Mail == nil || cfg.Signer == nil || cfg.Codes == nil || cfg.Passwords == nil {
		errs = append(errs, errors.New("DB, Redis, Mail, Signer, Codes and Passwords are all required"))
	}
	if len(cfg.SessionKey) < 32 {
		errs = append(errs, errors.New("the session key must be at least 32 bytes"))
	}
	if cfg.Policy == (Policy{}) {
		cfg.Policy = DefaultPolicy()
	}
	if err := cfg.Policy.validate(); err != nil {
		errs = append(errs, err)
	}
	if cfg.ProxyHops < 0 {
		errs = append(errs, errors.New("proxy hops must not be negative"))
	}
	admins := map[string]bool{}
	for _, e := range cfg.AdminEmails {
		if strings.TrimSpace(e) == "" {
			continue
		}
		a, err := ParseAddress(e)
		if err != nil {
			errs = append(errs, fmt.Errorf("admin address %q: %v", e, vodfc.As(err).Message))
			continue
		}
		admins[a.Key] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = runtime.Now
	}
	return &Auth{
		store:     store{db: cfg.DB},
		codes:     codes{db: cfg.DB, hasher: cfg.Codes, ttl: cfg.Policy.CodeTTL, attempts: cfg.Policy.CodeAttempts},
		sessions:  sessions{db: cfg.DB, key: cfg.SessionKey, lifetime: cfg.Policy.SessionLifetime, grace: cfg.Policy.RefreshGrace},
		limits:    limiter{r: cfg.Redis, p: cfg.Policy},
		mail:      cfg.Mail,
		signer:    cfg.Signer,
		passwords: cfg.Passwords,
		admins:    admins,
		proxyHops: cfg.ProxyHops,
		now:       cfg.Now,
	}, nil
}

// ParseAdminEmails splits an ADMIN_EMAILS value (comma-separated addresses).
func ParseAdminEmails(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// User is an account as its owner sees it in token responses.
type User struct {
	ID        string     `json:"id"`
	Email     string     `json:"email"`
	Nickname  string     `json:"nickname"`
	Tier      vodfc.Tier `json:"tier"`
	CreatedAt time.Time  `json:"created_at"`
}

func userOf(a *account) *User {
	return &User{ID: a.ID, Email: a.Email, Nickname: a.Nickname, Tier: a.Tier, CreatedAt: a.CreatedAt}
}

// TokenPair is what a client keeps: a short-lived access token and the refresh token that
// replaces it. Lifetimes are in seconds.
type TokenPair struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresIn int    `json:"refresh_expires_in"`
}

// Session is the answer to a verification or a login: a token pair and the account.
type Session struct {
	TokenPair
	User *User `json:"user"`
}

// Errors clients switch on.
var (
	errInvalidCredentials = vodfc.Unauthorized("invalid_credentials", "the email address or the password is wrong")
	errNotVerified        = vodfc.Forbidden("email_not_verified", "confirm your email address first: enter the code we sent, or ask for a new one")
)

func invalidRefresh(cause string) error {
	return &vodfc.Error{Kind: vodfc.KindUnauthorized, Code: "invalid_refresh_token",
		Message: "the refresh token is not valid; log in again", Cause: errors.New(cause)}
}

func mailFailed(err error) error {
	return &vodfc.Error{Kind: vodfc.KindUnavailable, Code: "mail_unavailable", RetryAfter: time.Minute,
		Message: "we could not send the email just now; try again in a minute", Cause: err}
}

func logWarn(ctx context.Context, msg string, err error) {
	slog.WarnContext(ctx, "accounts: "+msg, "error", err.Error())
}

// roles are what the access token of a carries: admin for ADMIN_EMAILS.
func (a *Auth) roles(acct *account) []vodfc.Role {
	if addr, err := ParseAddress(acct.Email); err == nil && a.admins[addr.Key] {
		return []vodfc.Role{vodfc.RoleAdmin}
	}
	return nil
}

// issue mints an access token for acct and pairs it with refresh.
func (a *Auth) issue(acct *account, refresh string, refreshEnds, now time.Time) (*TokenPair, error) {
	access, ttl, err := a.signer.IssueAccess(acct.ID, acct.Tier, a.roles(acct))
	if err != nil {
		return nil, vodfc.Internal(err)
	}
	return &TokenPair{AccessToken: access, TokenType: "Bearer", ExpiresIn: int(ttl / time.Second),
		RefreshToken: refresh, RefreshExpiresIn: int(refreshEnds.Sub(now) / time.Second)}, nil
}

// startSession starts a refresh-token family for acct; readAt is when the account row was
// read (see sessions.start).
func (a *Auth) startSession(ctx context.Context, acct *account, readAt time.Time) (*Session, error) {
	now := a.now()
	refresh, ends, err := a.sessions.start(ctx, acct.ID, readAt, acct.SessionsAfter, now)
	if err != nil {
		return nil, err
	}
	pair, err := a.issue(acct, refresh, ends, now)
	if err != nil {
		return nil, err
	}
	return &Session{TokenPair: *pair, User: userOf(acct)}, nil
}

// RegisterInput is a sign-up.
type RegisterInput struct {
	Email, Password, Nickname string
	ClientIP                  string
}

// Register signs up a new account and emails a verification code, or, for an address that
// already has an account, emails its owner a notice instead. Both answer nil: the caller
// cannot tell them apart (see the package doc).
func (a *Auth) Register(ctx context.Context, in RegisterInput) error {
	addr, err := ParseAddress(in.Email)
	if err != nil {
		return err
	}
	nickname, err := cleanNickname(in.Nickname)
	if err != nil {
		return err
	}
	if err := auth.ValidatePassword(in.Password, addr.Key, addr.Local(), nickname); err != nil {
		return err
	}
	undo, err := a.limits.mail(ctx, auth.PurposeVerifyEmail, addr, in.ClientIP)
	if err != nil {
		return err
	}
	// Hash in both paths: it is most of the time this request takes.
	hash, err := a.passwords.Hash(ctx, in.Password)
	if err != nil {
		undo()
		return err
	}
	now := a.now()
	acct := &account{ID: vodfc.NewID(), Email: addr.Mailbox, Nickname: nickname, Password: hash,
		Tier: vodfc.TierFree, CreatedAt: now}
	err = a.store.claim(ctx, addr.Key, acct.ID, now)
	if tablestore.IsConditionFailed(err) {
		// Second round trip, as the new-account path's batch: whose account it is, for the log.
		existing, err := a.store.lookup(ctx, addr.Key)
		if err != nil {
			undo()
			return err
		}
		slog.InfoContext(ctx, "accounts: sign-up for an address that has an account; notice sent", "user_id", existing)
		if err := a.mail.SendAccountExists(ctx, addr.Mailbox); err != nil {
			undo()
			return mailFailed(err)
		}
		return nil
	}
	if err != nil {
		undo()
		return err
	}
	code := auth.NewEmailCode()
	codeRow := a.codes.codeWrite(addr, auth.PurposeVerifyEmail, code, acct.ID, now)
	if err := a.store.db.BatchWrite(ctx, []tablestore.Write{newAccountWrite(acct), codeRow}); err != nil {
		a.rollbackSignUp(ctx, addr, acct.ID)
		undo()
		return err
	}
	if err := a.mail.SendVerificationCode(ctx, addr.Mailbox, code, a.codes.ttl); err != nil {
		// Undo the sign-up so that trying again later starts afresh instead of meeting an
		// account whose code never arrived.
		a.rollbackSignUp(ctx, addr, acct.ID)
		undo()
		return mailFailed(err)
	}
	slog.InfoContext(ctx, "accounts: signed up; verification code sent", "user_id", acct.ID)
	return nil
}

func (a *Auth) rollbackSignUp(ctx context.Context, addr Address, id string) {
	ctx = context.WithoutCancel(ctx)
	err := errors.Join(
		a.codes.discard(ctx, addr, auth.PurposeVerifyEmail),
		a.store.db.Delete(ctx, tablestore.Users.Name, userKey(id), tablestore.IfExists().Where(tablestore.Eq(colVerified, false))),
		a.store.release(ctx, addr.Key, id),
	)
	if err != nil && !tablestore.IsConditionFailed(err) {
		logWarn(ctx, "rolling back a sign-up", err)
	}
}

// Verify confirms an address with its code and logs the account in.
func (a *Auth) Verify(ctx context.Context, email, code, clientIP string) (*Session, error) {
	addr, err := ParseAddress(email)
	if err != nil {
		return nil, err
	}
	if !auth.IsEmailCode(code) {
		return nil, vodfc.InvalidField("code", "must be the 6 digits from the email")
	}
	if err := a.limits.codeAllowed(ctx, clientIP); err != nil {
		return nil, err
	}
	readAt := a.now()
	id, err := a.codes.consume(ctx, addr, auth.PurposeVerifyEmail, code, readAt)
	if vodfc.IsCode(err, "invalid_code") {
		a.limits.codeFailed(ctx, clientIP)
	}
	if err != nil {
		return nil, err
	}
	acct, err := a.store.account(ctx, id)
	if err != nil {
		return nil, err
	}
	if acct == nil {
		return nil, invalidCode(errors.New("the account of the code is gone"))
	}
	if !acct.Verified {
		now := a.now()
		if err := a.store.markVerified(ctx, acct.ID, now); err != nil {
			return nil, err
		}
		acct.Verified, acct.VerifiedAt = true, now
		slog.InfoContext(ctx, "accounts: address verified", "user_id", acct.ID)
	}
	return a.startSession(ctx, acct, readAt)
}

// Resend emails a new verification code to an unverified account's address; a verified
// account's owner gets the "you already have an account" notice and an unknown address the
// "no account" notice, so the answer is the same for all three.
func (a *Auth) Resend(ctx context.Context, email, clientIP string) error {
	addr, err := ParseAddress(email)
	if err != nil {
		return err
	}
	undo, err := a.limits.mail(ctx, auth.PurposeVerifyEmail, addr, clientIP)
	if err != nil {
		return err
	}
	id, err := a.store.lookup(ctx, addr.Key)
	if err != nil {
		undo()
		return err
	}
	if id == "" {
		// Read a row that is not there, as Login does: the same round trips for every address.
		id = vodfc.NewID()
	}
	acct, err := a.store.account(ctx, id)
	if err != nil {
		undo()
		return err
	}
	// Every path writes a code row, as ForgotPassword does: the real code for an account
	// waiting for verification, otherwise one no guess can match.
	code := auth.NewEmailCode()
	pending := acct != nil && !acct.Verified
	stored, owner := "", ""
	if pending {
		stored, owner = code, acct.ID
	}
	if err := a.codes.put(ctx, a.codes.codeWrite(addr, auth.PurposeVerifyEmail, stored, owner, a.now())); err != nil {
		undo()
		return err
	}
	switch {
	case acct == nil:
		err = a.mail.SendNoAccount(ctx, addr.Mailbox)
	case acct.Verified:
		err = a.mail.SendAccountExists(ctx, addr.Mailbox)
	default:
		err = a.mail.SendVerificationCode(ctx, addr.Mailbox, code, a.codes.ttl)
	}
	if err != nil {
		undo()
		return mailFailed(err)
	}
	return nil
}

// maxPasswordBytes bounds what Login hashes: 128 characters are at most 512 bytes of UTF-8,
// so anything longer cannot be anyone's password.
const maxPasswordBytes = 4 * auth.MaxPasswordRunes

// Login checks an address and password and starts a session.
func (a *Auth) Login(ctx context.Context, email, password, clientIP string) (*Session, error) {
	addr, err := ParseAddress(email)
	if err != nil {
		return nil, err
	}
	if password == "" {
		return nil, vodfc.InvalidField("password", "is required")
	}
	if err := a.limits.loginAllowed(ctx, addr, clientIP); err != nil {
		return nil, err
	}
	unlock, err := a.limits.lockLogin(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer unlock()

	readAt := a.now()
	id, err := a.store.lookup(ctx, addr.Key)
	if err != nil {
		return nil, err
	}
	if id == "" {
		// Read a row that is not there, as the known path reads the account: same round trips.
		id = vodfc.NewID()
	}
	acct, err := a.store.account(ctx, id)
	if err != nil {
		return nil, err
	}
	if acct == nil || len(password) > maxPasswordBytes {
		if err := a.passwords.VerifyDummy(ctx, password); err != nil {
			return nil, err
		}
		a.limits.loginFailed(ctx, addr, clientIP)
		return nil, errInvalidCredentials
	}
	ok, needsRehash, err := a.passwords.Verify(ctx, password, acct.Password)
	if err != nil {
		return nil, err
	}
	if !ok {
		a.limits.loginFailed(ctx, addr, clientIP)
		slog.InfoContext(ctx, "accounts: wrong password", "user_id", acct.ID)
		return nil, errInvalidCredentials
	}
	a.limits.loginSucceeded(ctx, addr)
	if needsRehash {
		if hash, err := a.passwords.Hash(ctx, password); err == nil {
			if err := a.store.rehash(ctx, acct.ID, acct.Password, hash); err != nil && !tablestore.IsConditionFailed(err) {
				logWarn(ctx, "replacing a weaker password hash", err)
			}
		}
	}
	if !acct.Verified {
		return nil, errNotVerified
	}
	slog.InfoContext(ctx, "accounts: logged in", "user_id", acct.ID)
	return a.startSession(ctx, acct, readAt)
}

// Refresh rotates a refresh token: the presented token is spent and its child returned with a
// new access token carrying the account's current tier and roles.
func (a *Auth) Refresh(ctx context.Context, token string) (*TokenPair, error) {
	if !validShape(token) {
		return nil, invalidRefresh("not a refresh token")
	}
	hash := auth.HashRefreshToken(token)
	t, err := a.sessions.token(ctx, hash)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, invalidRefresh("unknown refresh token")
	}
	now := a.now()
	if !now.Before(t.ExpiresAt) {
		return nil, invalidRefresh("session reached its absolute lifetime")
	}
	fam, err := a.sessions.family(ctx, t.UserID, t.FamilyID)
	if err != nil {
		return nil, err
	}
	switch {
	case fam == nil || fam.ExpiresAt.IsZero():
		return nil, invalidRefresh("session is gone")
	case !fam.RevokedAt.IsZero():
		return nil, invalidRefresh("session was revoked (" + fam.RevokedReason + ")")
	case !now.Before(fam.ExpiresAt):
		return nil, invalidRefresh("session reached its absolute lifetime")
	}
	acct, err := a.store.account(ctx, t.UserID)
	if err != nil {
		return nil, err
	}
	if acct == nil {
		return nil, invalidRefresh("account is gone")
	}
	if fam.endedBy(acct) {
		return nil, invalidRefresh("session ended by a password reset")
	}

	child := a.sessions.child(token)
	childHash := auth.HashRefreshToken(child)
	if t.State == stateActive {
		won, err := a.sessions.rotate(ctx, t, childHash, now)
		if err != nil {
			return nil, err
		}
		if won {
			if err := a.sessions.putChild(ctx, t, childHash, now); err != nil {
				return nil, err
			}
			return a.issue(acct, child, t.ExpiresAt, now)
		}
		// Someone rotated it between our read and our write: judge it as rotated.
		if t, err = a.sessions.token(ctx, hash); err != nil || t == nil {
			return nil, errors.Join(err, invalidRefresh("token vanished during rotation"))
		}
	}
	return a.again(ctx, acct, t, child, childHash, now)
}

// again judges a rotated token presented once more. Within the grace window, while its child
// is unused, it is the same client retrying a refresh whose answer it lost: it gets the same
// child. Otherwise two parties hold tokens of this family, one of them a thief, and the only
// safe answer is to end the family for both.
func (a *Auth) again(ctx context.Context, acct *account, t *tokenRow, child, childHash string, now time.Time) (*TokenPair, error) {
	reuse := func(why string) error {
		if err := a.sessions.revoke(ctx, t.UserID, t.FamilyID, revokedReuse, now); err != nil {
			return err
		}
		slog.WarnContext(ctx, "accounts: refresh token reused; session revoked", "user_id", t.UserID,
			"family_id", t.FamilyID, "why", why)
		return invalidRefresh("rotated refresh token reused: " + why)
	}
	if t.State != stateRotated || t.ChildHash != childHash {
		return nil, reuse("token in an unexpected state")
	}
	if now.Sub(t.RotatedAt) > a.sessions.grace {
		return nil, reuse("after the grace window")
	}
	c, err := a.sessions.token(ctx, childHash)
	if err != nil {
		return nil, err
	}
	if c == nil {
		// The rotation's second write never happened (a crash between the two): do it now.
		if err := a.sessions.putChild(ctx, t, childHash, now); err != nil {
			return nil, err
		}
	} else if c.State != stateActive {
		return nil, reuse("its child was already used")
	}
	return a.issue(acct, child, t.ExpiresAt, now)
}

// Logout ends the session the refresh token belongs to. Any token of the family will do, and
// an unknown token is not an error: the outcome the client wants holds either way.
func (a *Auth) Logout(ctx context.Context, token string) error {
	if !validShape(token) {
		return nil
	}
	t, err := a.sessions.token(ctx, auth.HashRefreshToken(token))
	if err != nil || t == nil {
		return err
	}
	if err := a.sessions.revoke(ctx, t.UserID, t.FamilyID, revokedLogout, a.now()); err != nil {
		return err
	}
	slog.InfoContext(ctx, "accounts: logged out", "user_id", t.UserID, "family_id", t.FamilyID)
	return nil
}

// ForgotPassword emails a reset code to the address of an account, or the "no account"
// notice to an address without one; the answer is the same.
func (a *Auth) ForgotPassword(ctx context.Context, email, clientIP string) error {
	addr, err := ParseAddress(email)
	if err != nil {
		return err
	}
	undo, err := a.limits.mail(ctx, auth.PurposeResetPassword, addr, clientIP)
	if err != nil {
		return err
	}
	id, err := a.store.lookup(ctx, addr.Key)
	if err != nil {
		undo()
		return err
	}
	// Both paths write a code row: a real one, or for an unknown address one no guess
	// matches, so the work, and later the answers to guesses, are the same.
	code := auth.NewEmailCode()
	stored := code
	if id == "" {
		stored = ""
	}
	if err := a.codes.put(ctx, a.codes.codeWrite(addr, auth.PurposeResetPassword, stored, id, a.now())); err != nil {
		undo()
		return err
	}
	if id != "" {
		err = a.mail.SendPasswordResetCode(ctx, addr.Mailbox, code, a.codes.ttl)
	} else {
		err = a.mail.SendNoAccount(ctx, addr.Mailbox)
	}
	if err != nil {
		if derr := a.codes.discard(context.WithoutCancel(ctx), addr, auth.PurposeResetPassword); derr != nil {
			logWarn(ctx, "discarding an unsent reset code", derr)
		}
		undo()
		return mailFailed(err)
	}
	if id != "" {
		slog.InfoContext(ctx, "accounts: password reset code sent", "user_id", id)
	}
	return nil
}

// ResetPassword sets a new password with a reset code and ends every session of the account.
// Access tokens already issued stay valid until they expire (15 minutes at most): they are
// checked by signature alone, everywhere.
func (a *Auth) ResetPassword(ctx context.Context, email, code, newPassword, clientIP string) error {
	addr, err := ParseAddress(email)
	if err != nil {
		return err
	}
	if !auth.IsEmailCode(code) {
		return vodfc.InvalidField("code", "must be the 6 digits from the email")
	}
	// Judge the new password before spending an attempt of the code on it.
	if err := auth.ValidatePassword(newPassword, addr.Key, addr.Local()); err != nil {
		return err
	}
	if err := a.limits.codeAllowed(ctx, clientIP); err != nil {
		return err
	}
	id, err := a.codes.consume(ctx, addr, auth.PurposeResetPassword, code, a.now())
	if vodfc.IsCode(err, "invalid_code") {
		a.limits.codeFailed(ctx, clientIP)
	}
	if err != nil {
		return err
	}
	acct, err := a.store.account(ctx, id)
	if err != nil {
		return err
	}
	if acct == nil {
		return invalidCode(errors.New("the account of the code is gone"))
	}
	hash, err := a.passwords.Hash(ctx, newPassword)
	if err != nil {
		return err
	}
	if err := a.store.resetPassword(ctx, acct, hash, a.now()); err != nil {
		return err
	}
	// Whoever was guessing is locked out by the new password; the owner must not be.
	a.limits.loginSucceeded(ctx, addr)
	slog.InfoContext(ctx, "accounts: password reset; every session ended", "user_id", acct.ID)
	return nil
}
