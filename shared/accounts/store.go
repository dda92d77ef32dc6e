package accounts

import (
	"context"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/tablestore"
)

// Column names of the users, user_emails, email_codes, refresh_tokens and refresh_families
// tables (shared/tablestore/tables.go).
const (
	colUserID        = "user_id"
	colEmail         = "email"
	colNickname      = "nickname"
	colBio           = "bio"
	colPassword      = "password"
	colTier          = "tier"
	colVerified      = "verified"
	colCreatedAt     = "created_at"
	colVerifiedAt    = "verified_at"
	colUpdatedAt     = "updated_at"
	colSessionsAfter = "sessions_after"

	colPurpose   = "purpose"
	colCodeHash  = "code_hash"
	colExpiresAt = "expires_at"
	colAttempts  = "attempts"

	colTokenHash     = "token_hash"
	colFamilyID      = "family_id"
	colState         = "state"
	colRotatedAt     = "rotated_at"
	colChildHash     = "child_hash"
	colRevokedAt     = "revoked_at"
	colRevokedReason = "revoked_reason"
	// colEpoch is the account's sessions_after that a family was started under: the family
	// lives only while the account still has that value.
	colEpoch = "sessions_epoch"
)

// account is a users row.
type account struct {
	ID            string
	Email         string // the mailbox, as typed at sign-up
	Nickname      string
	Bio           string
	Password      string // PHC argon2id
	Tier          vodfc.Tier
	Verified      bool
	CreatedAt     time.Time
	VerifiedAt    time.Time
	UpdatedAt     time.Time
	SessionsAfter time.Time
}

// store reads and writes the users and user_emails rows.
type store struct {
	db *tablestore.Client
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

func accountFromRow(r *tablestore.Row) *account {
	tier := vodfc.Tier(r.Str(colTier))
	if !tier.Valid() {
		tier = vodfc.TierFree
	}
	return &account{
		ID:            r.Key.Str(colUserID),
		Email:         r.Str(colEmail),
		Nickname:      r.Str(colNickname),
		Bio:           r.Str(colBio),
		Password:      r.Str(colPassword),
		Tier:          tier,
		Verified:      r.Bool(colVerified),
		CreatedAt:     fromMS(r.Int(colCreatedAt)),
		VerifiedAt:    fromMS(r.Int(colVerifiedAt)),
		UpdatedAt:     fromMS(r.Int(colUpdatedAt)),
		SessionsAfter: fromMS(r.Int(colSessionsAfter)),
	}
}

func userKey(id string) tablestore.Key { return tablestore.K(colUserID, id) }

// account reads one users row; nil when it does not exist.
func (s *store) account(ctx context.Context, id string) (*account, error) {
	return s.read(ctx, id)
}

// profileColumns are what profiles need: never the password hash, which the users function
// has no business holding, even in memory.
var profileColumns = []string{colEmail, colNickname, colBio, colTier, colVerified, colCreatedAt}

// profile reads the profile columns of one users row; nil when it does not exist.
func (s *store) profile(ctx context.Context, id string) (*account, error) {
	return s.read(ctx, id, profileColumns...)
}

func (s *store) read(ctx context.Context, id string, cols ...string) (*account, error) {
	row, err := s.db.Get(ctx, tablestore.Users.Name, userKey(id), cols...)
	if err != nil || row == nil {
		return nil, err
	}
	return accountFromRow(row), nil
}

// lookup returns the account id of an address key, "" when none.
func (s *store) lookup(ctx context.Context, key string) (string, error) {
	row, err := s.db.Get(ctx, tablestore.UserEmails.Name, tablestore.K(colEmail, key), colUserID)
	if err != nil || row == nil {
		return "", err
	}
	return row.Str(colUserID), nil
}

// claim reserves an address for id; a conditional put expecting no row is what makes
// addresses unique. It fails with tablestore.ErrConditionFailed when the address is taken.
func (s *store) claim(ctx context.Context, key, id string, now time.Time) error {
	return s.db.Put(ctx, tablestore.UserEmails.Name, tablestore.K(colEmail, key),
		tablestore.Cols{colUserID: id, colCreatedAt: ms(now)}, tablestore.IfNotExists())
}

// release undoes claim, only if the address is still claimed by id.
func (s *store) release(ctx context.Context, key, id string) error {
	err := s.db.Delete(ctx, tablestore.UserEmails.Name, tablestore.K(colEmail, key),
		tablestore.IfExists().Where(tablestore.Eq(colUserID, id)))
	if tablestore.IsConditionFailed(err) {
		return nil
	}
	return err
}

// newAccountWrite is the put of a new, unverified account.
func newAccountWrite(a *account) tablestore.Write {
	return tablestore.Write{Table: tablestore.Users.Name, Key: userKey(a.ID), Cond: tablestore.IfNotExists(),
		Put: tablestore.Cols{
			colEmail: a.Email, colNickname: a.Nickname, colBio: a.Bio, colPassword: a.Password,
			colTier: string(a.Tier), colVerified: false,
			colCreatedAt: ms(a.CreatedAt), colUpdatedAt: ms(a.CreatedAt), colSessionsAfter: ms(a.CreatedAt),
		}}
}

// markVerified records that the owner of the address confirmed it.
func (s *store) markVerified(ctx context.Context, id string, now time.Time) error {
	_, err := s.db.Update(ctx, tablestore.Users.Name, userKey(id), tablestore.Change{
		Set: tablestore.Cols{colVerified: true, colVerifiedAt: ms(now), colUpdatedAt: ms(now)},
	}, tablestore.IfExists())
	return err
}

// resetPassword sets a new password hash and ends every session started under the account's
// current sessions_after, which it moves forward (by a millisecond at least, so that a login
// that read the account in the same millisecond is ended too). The reset code proved control
// of the address, so an unverified account becomes verified.
func (s *store) resetPassword(ctx context.Context, a *account, hash string, now time.Time) error {
	after := max(ms(now), ms(a.SessionsAfter)+1)
	set := tablestore.Cols{colPassword: hash, colSessionsAfter: after, colUpdatedAt: ms(now)}
	if !a.Verified {
		set[colVerified] = true
		set[colVerifiedAt] = ms(now)
	}
	_, err := s.db.Update(ctx, tablestore.Users.Name, userKey(a.ID), tablestore.Change{Set: set}, tablestore.IfExists())
	return err
}

// rehash replaces a password hash made with weaker parameters, only if it is still the one
// that was verified (a concurrent reset wins).
func (s *store) rehash(ctx context.Context, id, old, hash string) error {
	_, err := s.db.Update(ctx, tablestore.Users.Name, userKey(id), tablestore.Change{
		Set: tablestore.Cols{colPassword: hash},
	}, tablestore.IfExists().Where(tablestore.Eq(colPassword, old)))
	return err
}

// updateProfile writes the profile fields that are set.
func (s *store) updateProfile(ctx context.Context, id string, nickname, bio *string, now time.Time) error {
	set := tablestore.Cols{colUpdatedAt: ms(now)}
	if nickname != nil {
		set[colNickname] = *nickname
	}
	if bio != nil {
		set[colBio] = *bio
	}
	_, err := s.db.Update(ctx, tablestore.Users.Name, userKey(id), tablestore.Change{Set: set}, tablestore.IfExists())
	return err
}

// setTier changes an account's tier.
func (s *store) setTier(ctx context.Context, id string, tier vodfc.Tier, now time.Time) error {
	_, err := s.db.Update(ctx, tablestore.Users.Name, userKey(id), tablestore.Change{
		Set: tablestore.Cols{colTier: string(tier), colUpdatedAt: ms(now)},
	}, tablestore.IfExists())
	return err
}
