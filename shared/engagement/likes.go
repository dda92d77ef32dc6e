package engagement

import (
	"context"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

// LikeState is the answer to a like or unlike.
type LikeState struct {
	Liked bool  `json:"liked"`
	Likes int64 `json:"likes"`
}

const colLikedAt = "liked_at"

func likeKey(videoID, userID string) tablestore.Key {
	return tablestore.K("video_id", videoID, "user_id", userID)
}

func userLikeKey(userID string, at int64, videoID string) tablestore.Key {
	return tablestore.K("user_id", userID, "liked_at", at, "video_id", videoID)
}

// Like makes userID like videoID. It is idempotent: liking a liked video changes nothing.
//
// Failure cases and how each ends with likes == edges: a retry (client or platform) finds the
// edge and increments nothing; two racing likes both try a put that expects no edge and only
// one passes; a like racing an unlike is ordered by the edge's conditions, each real change
// moving the counter once; a request dying after the edge and before the increment leaves its
// intent, which Repair turns into a recount.
func (s *Service) Like(ctx context.Context, userID, videoID string) (LikeState, error) {
	if _, err := s.Gate.Actionable(ctx, videoID, userID); err != nil {
		return LikeState{}, err
	}
	edge, err := s.db.Get(ctx, tablestore.VideoLikes.Name, likeKey(videoID, userID), colLikedAt)
	if err != nil {
		return LikeState{}, storageErr(err)
	}
	if edge != nil {
		return s.likeState(ctx, videoID, true)
	}
	at := s.stamp()
	listing := tablestore.Write{Table: tablestore.UserLikes.Name, Key: userLikeKey(userID, at, videoID), Put: tablestore.Cols{}, Cond: tablestore.Always}
	target := Counter{VideoLikes, videoID}
	op, err := s.Ledger.Begin(ctx, "like", []Counter{target}, listing)
	if err != nil {
		return LikeState{}, err
	}
	err = s.db.Put(ctx, tablestore.VideoLikes.Name, likeKey(videoID, userID), tablestore.Cols{colLikedAt: at}, tablestore.IfNotExists())
	if tablestore.IsConditionFailed(err) { // a racing like won; our listing row is surplus
		var drop []tablestore.Write
		if e, err := s.db.Get(ctx, tablestore.VideoLikes.Name, likeKey(videoID, userID), colLikedAt); err != nil || e == nil || e.Int(colLikedAt) != at {
			drop = append(drop, tablestore.Write{Table: tablestore.UserLikes.Name, Key: listing.Key, Delete: true, Cond: tablestore.Always})
		} // else the winner stamped the same instant and the row is its own
		op.End(ctx, drop...)
		return s.likeState(ctx, videoID, true)
	}
	if err != nil { // maybe applied, maybe not: the intent stays and rollup recounts
		return LikeState{}, storageErr(err)
	}
	snap, err := op.Add(ctx, target, 1)
	if err != nil {
		return LikeState{}, storageErr(err)
	}
	op.End(ctx)
	s.CacheSnapshot(ctx, videoID, snap)
	s.Tally(ctx, videoID, videos.ColLikes, 1)
	return LikeState{Liked: true, Likes: snap[videos.ColLikes]}, nil
}

// Unlike removes userID's like of videoID; unliking a video not liked changes nothing.
func (s *Service) Unlike(ctx context.Context, userID, videoID string) (LikeState, error) {
	if _, err := s.Gate.Readable(ctx, videoID, userID); err != nil {
		return LikeState{}, err
	}
	for attempt := 0; ; attempt++ {
		edge, err := s.db.Get(ctx, tablestore.VideoLikes.Name, likeKey(videoID, userID), colLikedAt)
		if err != nil {
			return LikeState{}, storageErr(err)
		}
		if edge == nil {
			return s.likeState(ctx, videoID, false)
		}
		at := edge.Int(colLikedAt)
		target := Counter{VideoLikes, videoID}
		op, err := s.Ledger.Begin(ctx, "unlike", []Counter{target})
		if err != nil {
			return LikeState{}, err
		}
		err = s.db.Delete(ctx, tablestore.VideoLikes.Name, likeKey(videoID, userID),
			tablestore.IfExists().Where(tablestore.Eq(colLikedAt, at)))
		if tablestore.IsConditionFailed(err) && attempt < 3 {
			op.End(ctx) // the edge changed under us (a racing unlike, or unlike+like): look again
			continue
		}
		if err != nil { // maybe applied, maybe not: the intent stays and rollup recounts
			return LikeState{}, storageErr(err)
		}
		snap, err := op.Add(ctx, target, -1)
		if err != nil {
			return LikeState{}, storageErr(err)
		}
		op.End(ctx, tablestore.Write{Table: tablestore.UserLikes.Name, Key: userLikeKey(userID, at, videoID), Delete: true, Cond: tablestore.Always})
		s.CacheSnapshot(ctx, videoID, snap)
		s.Tally(ctx, videoID, videos.ColLikes, -1)
		return LikeState{Liked: false, Likes: snap[videos.ColLikes]}, nil
	}
}

func (s *Service) likeState(ctx context.Context, videoID string, liked bool) (LikeState, error) {
	c, err := s.count(ctx, videoID)
	if err != nil {
		return LikeState{}, err
	}
	return LikeState{Liked: liked, Likes: c.Likes}, nil
}

// VideoSummary is a video as lists of likes and favourites show it; nil when the viewer may no
// longer see the video (made private, deleted).
type VideoSummary struct {
	ID        string       `json:"id"`
	Title     string       `json:"title"`
	OwnerID   string       `json:"owner"` // named as on the video resource
	DurationS float64      `json:"duration_s"`
	Counts    vodfc.Counts `json:"counts"`
}

// LikedVideo is one entry of a user's likes.
type LikedVideo struct {
	VideoID string        `json:"video_id"`
	LikedAt time.Time     `json:"liked_at"`
	Video   *VideoSummary `json:"video"`
}

// Likes lists userID's likes, newest first.
func (s *Service) Likes(ctx context.Context, userID string, page httpapi.Page) (httpapi.List[LikedVideo], error) {
	start := tablestore.K("user_id", userID, "liked_at", tablestore.Max, "video_id", tablestore.Max)
	if page.Cursor != "" {
		k, err := cursorKey(page.Cursor, tablestore.K("user_id", userID), "user_id", "liked_at", "video_id")
		if err != nil {
			return httpapi.List[LikedVideo]{}, err
		}
		start = k
	}
	rows, next, err := s.db.GetRange(ctx, tablestore.UserLikes.Name, tablestore.Range{Start: start,
		End: tablestore.K("user_id", userID, "liked_at", tablestore.Min, "video_id", tablestore.Min), Backward: true, Limit: page.Limit})
	if err != nil {
		return httpapi.List[LikedVideo]{}, storageErr(err)
	}
	// A listing row is only true while the edge carries the same liked_at: rows left by a
	// racing like that lost, or by an unlike that died before deleting them, are skipped.
	keys := make([]tablestore.Key, len(rows))
	for i, r := range rows {
		keys[i] = likeKey(r.Key.Str("video_id"), userID)
	}
	edges, err := s.db.BatchGet(ctx, tablestore.VideoLikes.Name, keys, colLikedAt)
	if err != nil {
		return httpapi.List[LikedVideo]{}, storageErr(err)
	}
	var ids []string
	var stale []tablestore.Write
	out := httpapi.List[LikedVideo]{Items: []LikedVideo{}}
	for i, r := range rows {
		at := r.Key.Int("liked_at")
		if edges[i] == nil || edges[i].Int(colLikedAt) != at {
			stale = append(stale, tablestore.Write{Table: tablestore.UserLikes.Name, Key: r.Key, Delete: true, Cond: tablestore.Always})
			continue
		}
		vid := r.Key.Str("video_id")
		ids = append(ids, vid)
		out.Items = append(out.Items, LikedVideo{VideoID: vid, LikedAt: time.UnixMicro(at).UTC()})
	}
	s.dropStale(ctx, stale)
	sums, err := s.summaries(ctx, userID, ids)
	if err != nil {
		return httpapi.List[LikedVideo]{}, err
	}
	for i := range out.Items {
		out.Items[i].Video = sums[out.Items[i].VideoID]
	}
	out.NextCursor = keyCursor(next)
	return out, nil
}

// dropStale deletes listing rows found stale; a failure leaves them for the next reader.
func (s *Service) dropStale(ctx context.Context, stale []tablestore.Write) {
	if len(stale) == 0 {
		return
	}
	if err := s.db.BatchWrite(ctx, stale); err != nil {
		s.log.WarnContext(ctx, "removing stale listing rows failed", "rows", len(stale), "err", err)
	}
}

// summaries reads the videos of a list in one batch, with their counters.
func (s *Service) summaries(ctx context.Context, viewerID string, ids []string) (map[string]*VideoSummary, error) {
	out := map[string]*VideoSummary{}
	if len(ids) == 0 {
		return out, nil
	}
	vs, err := s.videos.BatchGet(ctx, ids)
	if err != nil {
		return nil, storageErr(err)
	}
	for _, id := range ids {
		if v := vs[id]; v != nil && v.VisibleTo(viewerID) {
			out[id] = &VideoSummary{ID: id, Title: v.Title, OwnerID: v.OwnerID, DurationS: v.Duration.Seconds(), Counts: v.Counts}
		}
	}
	return out, nil
}

// cursorKey decodes a range cursor and checks it is a key of the table read (column names in
// order) inside the caller's own range (the values of prefix), since cursors come from clients.
func cursorKey(cursor string, prefix tablestore.Key, names ...string) (tablestore.Key, error) {
	bad := vodfc.E(vodfc.KindInvalid, "invalid_cursor", "cursor is malformed; start again without one")
	b, err := httpapi.DecodeCursorBytes(cursor)
	if err != nil {
		return nil, err
	}
	k, err := tablestore.UnmarshalKey(b)
	if err != nil || len(k) != len(names) {
		return nil, bad
	}
	for i, c := range k {
		if c.Name != names[i] {
			return nil, bad
		}
		if i < len(prefix) && c.Value != prefix[i].Value {
			return nil, bad
		}
	}
	return k, nil
}

func keyCursor(next tablestore.Key) string {
	if next == nil {
		return ""
	}
	return httpapi.EncodeCursorBytes(tablestore.MarshalKey(next))
}

// countVideoLikes is the truth of video.likes: the number of like edges.
func (s *Service) countVideoLikes(ctx context.Context, videoID string) (int64, error) {
	return countRange(ctx, s.db, tablestore.VideoLikes.Name,
		tablestore.K("video_id", videoID, "user_id", tablestore.Min), tablestore.K("video_id", videoID, "user_id", tablestore.Max), colLikedAt)
}
