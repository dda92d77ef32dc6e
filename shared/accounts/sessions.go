package accounts

import (
	"context"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/tablestore"
)

// sessionKeyInfo separates the refresh-child key from every other key derived from the
// signing key (the email-code key uses its own info string).
const sessionKeyInfo = "vodfc accounts: refresh token children v1"

// DeriveSessionKey derives the key that turns a refresh token into its child from the auth
// function's signing key (HKDF-SHA256), as auth.LoadCodeHasher does for email codes: only the
// auth function needs it and it already holds that secret. Rotating the signing key changes
// the children of tokens in flight, which only matters within a grace window.
func DeriveSessionKey(signingKey ed25519.PrivateKey) ([]byte, error) {
	if len(signingKey) != ed25519.PrivateKeySize {
		return nil, errors.New("accounts: session key needs an Ed25519 signing key")
	}
	return hkdf.Key(sha256.New, signingKey.Seed(), nil, sessionKeyInfo, 32)
}

// Token states in refresh_tokens.
const (
	stateActive  = "active"
	stateRotated = "rotated"
)

// Reasons a family was revoked.
const (
	revokedLogout = "logout"
	revokedReuse  = "reuse"
)

// refreshTokenLen is the length of a refresh token: base64url of 32 bytes, no padding.
const refreshTokenLen = 43

// sessions keeps refresh-token families in refresh_tokens and refresh_families.
type sessions struct {
	db       *tablestore.Client
	key      []byte
	lifetime time.Duration
	grace    time.Duration
}

// tokenRow is a refresh_tokens row.
type tokenRow struct {
	Hash      string
	UserID    string
	FamilyID  string
	State     string
	ExpiresAt time.Time
	RotatedAt time.Time
	ChildHash string
}

// familyRow is a refresh_families row.
type familyRow struct {
	CreatedAt time.Time
	// Epoch is the account's sessions_after when the family started; zero for families
	// started before it was kept, which are judged by CreatedAt.
	Epoch         time.Time
	ExpiresAt     time.Time
	RevokedAt     time.Time
	RevokedReason string
}

// endedBy reports whether a password reset of acct ended the family.
func (f *familyRow) endedBy(acct *account) bool {
	if f.Epoch.IsZero() {
		return f.CreatedAt.Before(acct.SessionsAfter)
	}
	return !f.Epoch.Equal(acct.SessionsAfter)
}

func tokenKey(hash string) tablestore.Key { return tablestore.K(colTokenHash, hash) }

func familyKey(userID, familyID string) tablestore.Key {
	return tablestore.K(colUserID, userID, colFamilyID, familyID)
}

// child derives the token that replaces parent: base64url(HMAC-SHA256(key, parent)). It is
// 256 bits no one can compute without the key, and the same for every presentation of parent,
// which is what lets a retried refresh receive the same child without storing it.
func (s *sessions) child(parent string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(parent))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validShape reports whether s could be a refresh token at all, so junk never reaches storage.
func validShape(s string) bool {
	if len(s) != refreshTokenLen {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// start begins a family for userID with its first token. createdAt is when the account row
// the login relied on was read and epoch its sessions_after then, so a password reset racing
// the login still ends it.
func (s *sessions) start(ctx context.Context, userID string, createdAt, epoch, now time.Time) (token string, expiresAt time.Time, err error) {
	token, hash := auth.NewRefreshToken()
	familyID := vodfc.NewID()
	expiresAt = now.Add(s.lifetime)
	fam := tablestore.Cols{colCreatedAt: ms(createdAt), colExpiresAt: ms(expiresAt)}
	if !epoch.IsZero() {
		fam[colEpoch] = ms(epoch)
	}
	err = s.db.BatchWrite(ctx, []tablestore.Write{
		{Table: tablestore.RefreshFamilies.Name, Key: familyKey(userID, familyID), Cond: tablestore.IfNotExists(), Put: fam},
		tokenWrite(hash, userID, familyID, now, expiresAt),
	})
	return token, expiresAt, err
}

func tokenWrite(hash, userID, familyID string, now, expiresAt time.Time) tablestore.Write {
	return tablestore.Write{Table: tablestore.RefreshTokens.Name, Key: tokenKey(hash), Cond: tablestore.IfNotExists(),
		Put: tablestore.Cols{colUserID: userID, colFamilyID: familyID, colState: stateActive,
			colCreatedAt: ms(now), colExpiresAt: ms(expiresAt)}}
}

// token reads a refresh_tokens row by hash; nil when none.
func (s *sessions) token(ctx context.Context, hash string) (*tokenRow, error) {
	row, err := s.db.Get(ctx, tablestore.RefreshTokens.Name, tokenKey(hash))
	if err != nil || row == nil {
		return nil, err
	}
	return &tokenRow{
		Hash:      hash,
		UserID:    row.Str(colUserID),
		FamilyID:  row.Str(colFamilyID),
		State:     row.Str(colState),
		ExpiresAt: fromMS(row.Int(colExpiresAt)),
		RotatedAt: fromMS(row.Int(colRotatedAt)),
		ChildHash: row.Str(colChildHash),
	}, nil
}

// family reads a refresh_families row; nil when none.
func (s *sessions) family(ctx context.Context, userID, familyID string) (*familyRow, error) {
	row, err := s.db.Get(ctx, tablestore.RefreshFamilies.Name, familyKey(userID, familyID))
	if err != nil || row == nil {
		return nil, err
	}
	return &familyRow{
		CreatedAt:     fromMS(row.Int(colCreatedAt)),
		Epoch:         fromMS(row.Int(colEpoch)),
		ExpiresAt:     fromMS(row.Int(colExpiresAt)),
		RevokedAt:     fromMS(row.Int(colRevokedAt)),
		RevokedReason: row.Str(colRevokedReason),
	}, nil
}

// rotate marks t rotated with childHash as its successor. It is the one conditional write
// that decides a race: false means someone else rotated t first.
func (s *sessions) rotate(ctx context.Context, t *tokenRow, childHash string, now time.Time) (bool, error) {
	_, err := s.db.Update(ctx, tablestore.RefreshTokens.Name, tokenKey(t.Hash), tablestore.Change{
		Set: tablestore.Cols{colState: stateRotated, colRotatedAt: ms(now), colChildHash: childHash},
	}, tablestore.IfExists().Where(tablestore.Eq(colState, stateActive)))
	if tablestore.IsConditionFailed(err) {
		return false, nil
	}
	return err == nil, err
}

// putChild writes the child's row, inheriting the family's end. It is idempotent: a retry
// after a crash between rotate and putChild writes it, a second writer finds it there.
func (s *sessions) putChild(ctx context.Context, parent *tokenRow, childHash string, now time.Time) error {
	w := tokenWrite(childHash, parent.UserID, parent.FamilyID, now, parent.ExpiresAt)
	err := s.db.Put(ctx, w.Table, w.Key, w.Put, w.Cond)
	if tablestore.IsConditionFailed(err) {
		return nil
	}
	return err
}

// revoke ends a family. Revoking twice keeps the first reason.
func (s *sessions) revoke(ctx context.Context, userID, familyID, reason string, now time.Time) error {
	_, err := s.db.Update(ctx, tablestore.RefreshFamilies.Name, familyKey(userID, familyID), tablestore.Change{
		Set: tablestore.Cols{colRevokedAt: ms(now), colRevokedReason: reason},
	}, tablestore.IfExists().Where(tablestore.Eq(colRevokedAt, int64(0)).OrMissing()))
	if tablestore.IsConditionFailed(err) {
		return nil
	}
	return err
}
