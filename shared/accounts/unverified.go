package accounts

import (
	"context"
	"log/slog"
	"time"

	"vodfc.dev/vodfc/tablestore"
)

// DeleteUnverified removes the accounts whose address was never confirmed and that were
// created before cutoff, with their address rows, for the cleanup timer; it returns how many
// it removed. The address row goes first, and only while it still names the account, so a
// crash in between leaves an unverified account without its address (the next sweep removes
// it), never an address held by an account that is gone. An owner who confirms at that very
// moment keeps the account: its delete is conditional on still being unverified, and the
// address row is put back.
func DeleteUnverified(ctx context.Context, db *tablestore.Client, cutoff time.Time, log *slog.Logger) (int, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &store{db: db}
	deleted := 0
	rng := tablestore.Range{
		Start: tablestore.K(colUserID, tablestore.Min), End: tablestore.K(colUserID, tablestore.Max),
		Cols:  []string{colEmail, colVerified, colCreatedAt},
		Where: []tablestore.Pred{tablestore.Eq(colVerified, false), tablestore.Lt(colCreatedAt, ms(cutoff))},
	}
	err := db.Scan(ctx, tablestore.Users.Name, rng, func(r *tablestore.Row) error {
		id := r.Key.Str(colUserID)
		addr, err := ParseAddress(r.Str(colEmail))
		if err != nil {
			log.WarnContext(ctx, "accounts: unverified account with an unreadable address; removing the account only", "user_id", id, "err", err)
		} else if err := s.release(ctx, addr.Key, id); err != nil {
			return err
		}
		err = db.Delete(ctx, tablestore.Users.Name, userKey(id), tablestore.IfExists().Where(tablestore.Eq(colVerified, false)))
		if tablestore.IsConditionFailed(err) {
			// Gone already (a rolled-back sign-up), or confirmed meanwhile: then it keeps its
			// address.
			a, err := s.account(ctx, id)
			if err != nil {
				return err
			}
			if a != nil && a.Verified && addr.Key != "" {
				if err := s.claim(ctx, addr.Key, id, a.CreatedAt); err != nil && !tablestore.IsConditionFailed(err) {
					return err
				}
				log.InfoContext(ctx, "accounts: account confirmed while being removed as unverified; kept", "user_id", id)
			}
			return nil
		}
		if err != nil {
			return err
		}
		deleted++
		return nil
	})
	return deleted, err
}
