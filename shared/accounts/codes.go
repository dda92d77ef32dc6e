package accounts

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/tablestore"
)

// codes keeps the one pending emailed code per address and purpose in email_codes.
type codes struct {
	db       *tablestore.Client
	hasher   *auth.CodeHasher
	ttl      time.Duration
	attempts int
}

func codeKey(addr Address, purpose auth.CodePurpose) tablestore.Key {
	return tablestore.K(colEmail, addr.Key, colPurpose, string(purpose))
}

// codeWrite stores a new code for addr, replacing any earlier one (and its spent attempts).
// userID "" with code "" stores a row no guess can match, for an address without an account.
func (c *codes) codeWrite(addr Address, purpose auth.CodePurpose, code, userID string, now time.Time) tablestore.Write {
	hash := ""
	if code != "" {
		hash = c.hasher.Hash(purpose, addr.Key, code)
	}
	return tablestore.Write{Table: tablestore.EmailCodes.Name, Key: codeKey(addr, purpose), Cond: tablestore.Always,
		Put: tablestore.Cols{colCodeHash: hash, colUserID: userID, colExpiresAt: ms(now.Add(c.ttl)),
			colAttempts: 0, colCreatedAt: ms(now)}}
}

func (c *codes) put(ctx context.Context, w tablestore.Write) error {
	return c.db.Put(ctx, w.Table, w.Key, w.Put, w.Cond)
}

// discard removes the code for addr (after its email could not be sent).
func (c *codes) discard(ctx context.Context, addr Address, purpose auth.CodePurpose) error {
	return c.db.Delete(ctx, tablestore.EmailCodes.Name, codeKey(addr, purpose), tablestore.Always)
}

// Why a code was refused; logged, never shown: the client sees invalid_code for all of them,
// so a guess tells nothing about whether a code (or an account) exists.
var (
	errNoCode       = errors.New("no code pending for this address")
	errCodeExpired  = errors.New("code expired")
	errCodeDead     = errors.New("code has no attempts left")
	errCodeWrong    = errors.New("wrong code")
	errCodeReplaced = errors.New("code replaced or consumed meanwhile")
)

func invalidCode(cause error) error {
	return &vodfc.Error{Kind: vodfc.KindInvalid, Code: "invalid_code", Cause: cause,
		Message: "the code is wrong, expired or already used; ask for a new one if needed",
		Fields:  map[string]string{"code": "is wrong, expired or already used"}}
}

// consume checks code for addr and purpose and, when it matches, deletes it so it works once.
// It returns the account id the code was sent for.
//
// The attempt is spent before the code is compared: an atomic increment conditioned on the
// stored hash, so however many guesses race, at most `attempts` of them are ever compared
// against one code. Two racing correct submissions both match, but only one deletes the row;
// the other is refused as a used code.
func (c *codes) consume(ctx context.Context, addr Address, purpose auth.CodePurpose, code string, now time.Time) (string, error) {
	key := codeKey(addr, purpose)
	row, err := c.db.Get(ctx, tablestore.EmailCodes.Name, key)
	if err != nil {
		return "", err
	}
	if row == nil {
		return "", invalidCode(errNoCode)
	}
	hash := row.Str(colCodeHash)
	if !now.Before(fromMS(row.Int(colExpiresAt))) {
		return "", invalidCode(errCodeExpired)
	}
	if row.Int(colAttempts) >= int64(c.attempts) {
		return "", invalidCode(errCodeDead)
	}
	same := tablestore.IfExists().Where(tablestore.Eq(colCodeHash, hash))
	n, err := c.db.Update(ctx, tablestore.EmailCodes.Name, key, tablestore.Change{Incr: map[string]int64{colAttempts: 1}}, same)
	if tablestore.IsConditionFailed(err) {
		return "", invalidCode(errCodeReplaced)
	}
	if err != nil {
		return "", err
	}
	if n[colAttempts] > int64(c.attempts) {
		return "", invalidCode(errCodeDead)
	}
	if !c.hasher.Verify(purpose, addr.Key, code, hash) {
		if left := int64(c.attempts) - n[colAttempts]; left == 0 {
			slog.InfoContext(ctx, "email code spent its last attempt", "purpose", string(purpose))
		}
		return "", invalidCode(errCodeWrong)
	}
	err = c.db.Delete(ctx, tablestore.EmailCodes.Name, key, same)
	if tablestore.IsConditionFailed(err) {
		return "", invalidCode(errCodeReplaced)
	}
	if err != nil {
		return "", err
	}
	return row.Str(colUserID), nil
}
