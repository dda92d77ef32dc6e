package videos

import (
	"context"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/tablestore"
)

// Position is a place in an owner's list: the last video a page returned. Clients carry it in
// an opaque cursor; it is re-checked like any input (it only ever selects within the owner's
// own range).
type Position struct {
	CreatedAt int64  `json:"c"`
	ID        string `json:"v"`
}

// maxListReads bounds the range reads one page may take when keep hides many videos (a user
// whose recent uploads are all private): the page then ends early with a cursor, so a request
// never scans an unbounded list.
const maxListReads = 8

// ListOwner returns up to limit videos of ownerID, newest first, after position after (nil for
// the start), keeping only those keep accepts. next is nil when the list has no more videos.
// Deleted videos are never listed (SoftDelete removes their entries; a row deleted between the
// two reads is skipped here).
func (s *Store) ListOwner(ctx context.Context, ownerID string, after *Position, limit int, keep func(*vodfc.Video) bool) (out []*vodfc.Video, next *Position, err error) {
	if limit <= 0 {
		return nil, nil, nil
	}
	end := tablestore.K("owner_id", ownerID, "created_at", tablestore.Min, "video_id", tablestore.Min)
	pos := after
	for range maxListReads {
		start := tablestore.K("owner_id", ownerID, "created_at", tablestore.Max, "video_id", tablestore.Max)
		if pos != nil {
			start = tablestore.K("owner_id", ownerID, "created_at", pos.CreatedAt, "video_id", pos.ID)
		}
		// One more than needed: the start is inclusive and may be the previous page's last row.
		rows, rest, err := s.db.GetRange(ctx, tablestore.UserVideos.Name, tablestore.Range{Start: start, End: end, Backward: true, Limit: limit - len(out) + 1})
		if err != nil {
			return nil, nil, err
		}
		var ids []string
		var keys []Position
		for _, r := range rows {
			p := Position{CreatedAt: r.Key.Int("created_at"), ID: r.Key.Str("video_id")}
			if pos != nil && p == *pos {
				continue
			}
			ids, keys = append(ids, p.ID), append(keys, p)
		}
		found, err := s.BatchGet(ctx, ids)
		if err != nil {
			return nil, nil, err
		}
		for i, id := range ids {
			p := keys[i]
			pos = &p
			v := found[id]
			if v == nil || v.Status == vodfc.StatusDeleted || v.OwnerID != ownerID || (keep != nil && !keep(v)) {
				continue
			}
			out = append(out, v)
			if len(out) == limit {
				if i == len(ids)-1 && rest == nil {
					return out, nil, nil
				}
				return out, pos, nil
			}
		}
		if rest == nil {
			return out, nil, nil
		}
	}
	return out, pos, nil
}
