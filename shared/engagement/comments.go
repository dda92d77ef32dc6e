package engagement

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

// Comment columns.
const (
	colAuthor      = "author_id"
	colText        = "text"
	colDeletedAt   = "deleted_at"
	colLikes       = "likes"
	colReplies     = "replies"
	colReplyToID   = "reply_to_id"
	colReplyToUser = "reply_to_user"
	colVideoID     = "video_id"
	colRootID      = "root_id"

	maxCommentRunes = 1000
	// nestedReplies is how many replies a listed thread carries; the rest are paged per thread.
	nestedReplies = 3
	// rankCap bounds how many comments a "top" ranking is rebuilt from.
	rankCap = 20000
	rankTTL = 10 * time.Minute
)

// Author is who wrote a comment.
type Author struct {
	ID       string `json:"id"`
	Nickname string `json:"nickname"`
}

// CommentRef points at the comment a reply answers.
type CommentRef struct {
	ID       string `json:"id"`
	AuthorID string `json:"author_id"`
}

// Comment is a comment or a reply as lists show it. A deleted comment that still has replies
// stays as a placeholder (Deleted, no text) so its thread keeps its shape.
type Comment struct {
	ID         string      `json:"id"`
	VideoID    string      `json:"video_id"`
	RootID     string      `json:"root_id,omitempty"`
	ReplyTo    *CommentRef `json:"reply_to,omitempty"`
	Author     Author      `json:"author"`
	Text       string      `json:"text"`
	Deleted    bool        `json:"deleted"`
	Likes      int64       `json:"likes"`
	Liked      bool        `json:"liked"`
	ReplyCount int64       `json:"reply_count"`
	Replies    []*Comment  `json:"replies,omitempty"`
	CreatedAt  time.Time   `json:"created_at"`
}

func commentKey(ref string) (tablestore.Key, error) {
	p, err := splitRef(ref, 2)
	if err != nil {
		return nil, err
	}
	return tablestore.K("video_id", p[0], "comment_id", p[1]), nil
}

func replyKey(ref string) (tablestore.Key, error) {
	p, err := splitRef(ref, 3)
	if err != nil {
		return nil, err
	}
	return tablestore.K("video_id", p[0], "root_id", p[1], "comment_id", p[2]), nil
}

func errCommentNotFound() error { return vodfc.NotFound("comment_not_found", "no such comment") }

func topKey(videoID string) string { return "cm:top:" + videoID }

// topScore orders the "top" ranking by likes, newer first among equals.
func topScore(likes int64, created time.Time) float64 {
	return float64(likes) + float64(created.Unix())/1e10
}

// located is where a comment lives.
type located struct {
	videoID, rootID, id string
}

func (l located) reply() bool { return l.rootID != "" }

func (l located) table() string {
	if l.reply() {
		return tablestore.CommentReplies.Name
	}
	return tablestore.Comments.Name
}

func (l located) key() tablestore.Key {
	if l.reply() {
		return tablestore.K("video_id", l.videoID, "root_id", l.rootID, "comment_id", l.id)
	}
	return tablestore.K("video_id", l.videoID, "comment_id", l.id)
}

func (l located) ref() string {
	if l.reply() {
		return l.videoID + "/" + l.rootID + "/" + l.id
	}
	return l.videoID + "/" + l.id
}

func (l located) likesCounter() Counter {
	if l.reply() {
		return Counter{ReplyLikes, l.ref()}
	}
	return Counter{CommentLikes, l.ref()}
}

// locate finds a comment from its id.
func (s *Service) locate(ctx context.Context, id string) (located, *tablestore.Row, error) {
	if !vodfc.ValidID(id) {
		return located{}, nil, errCommentNotFound()
	}
	loc, err := s.db.Get(ctx, tablestore.CommentIDs.Name, tablestore.K("comment_id", id))
	if err != nil {
		return located{}, nil, storageErr(err)
	}
	if loc == nil {
		return located{}, nil, errCommentNotFound()
	}
	l := located{videoID: loc.Str(colVideoID), rootID: loc.Str(colRootID), id: id}
	row, err := s.db.Get(ctx, l.table(), l.key())
	if err != nil {
		return located{}, nil, storageErr(err)
	}
	if row == nil { // a locator left by a create that died before the comment: nothing there
		return located{}, nil, errCommentNotFound()
	}
	return l, row, nil
}

// CommentInput is the body of POST /videos/{id}/comments.
type CommentInput struct {
	Text     string `json:"text"`
	ParentID string `json:"parent_id,omitempty"`
}

// commentText applies the text rules: control characters stripped, trimmed, 1–1000 characters.
func commentText(s string) (string, error) {
	t := strings.TrimSpace(CleanText(s, true))
	n := utf8.RuneCountInString(t)
	if n == 0 {
		return "", &vodfc.Error{Kind: vodfc.KindInvalid, Code: "comment_empty", Message: "a comment needs some text",
			Fields: map[string]string{"text": "must not be empty"}}
	}
	if n > maxCommentRunes {
		return "", &vodfc.Error{Kind: vodfc.KindInvalid, Code: "comment_too_long", Message: "a comment has at most 1000 characters",
			Fields: map[string]string{"text": "must be at most 1000 characters"}}
	}
	return t, nil
}

// PostComment adds a comment (or, with ParentID, a reply in the parent's thread: replies to a
// reply join the same thread and name whom they answer). idemKey, when the client sends one
// (Idempotency-Key), makes a retried post return the first one's comment instead of a second
// comment; it is what makes the comment id stable across retries, and the conditional put of
// the comment row is what keeps a retry racing the original from counting twice.
func (s *Service) PostComment(ctx context.Context, userID, videoID string, in CommentInput, idemKey string) (*Comment, bool, error) {
	text, err := commentText(in.Text)
	if err != nil {
		return nil, false, err
	}
	if len(idemKey) > 128 {
		return nil, false, vodfc.Invalid("invalid_idempotency_key", "an Idempotency-Key has at most 128 characters")
	}
	if _, err := s.Gate.Actionable(ctx, videoID, userID); err != nil {
		return nil, false, err
	}
	now := s.now()
	id := vodfc.NewSortableID(now)
	claimedBefore := false
	if idemKey != "" {
		stored, claimed, err := s.rdb.Claim(ctx, "idem:cm:"+userID+":"+idemKey, []byte(id), 24*time.Hour)
		if err != nil {
			return nil, false, storageErr(err)
		}
		if !claimed {
			id, claimedBefore = string(stored), true
			if c, err := s.getComment(ctx, id, userID); err == nil {
				return c, false, nil
			}
			// The first attempt claimed the id but did not get to write the comment: finish
			// the job under the same id.
		}
	}
	if !claimedBefore { // a retry finishing a claimed post spends nothing: it can only make that one comment
		d, err := s.rdb.Allow(ctx, "rl:cm:"+userID, s.cfg.CommentRate)
		if err != nil {
			s.log.WarnContext(ctx, "comment rate limit unavailable; allowing", "err", err)
		} else if !d.Allowed {
			return nil, false, vodfc.RateLimited("comment_rate_limited", d.RetryAfter)
		}
	}
	l := located{videoID: videoID, id: id}
	var replyTo *CommentRef
	if in.ParentID != "" {
		pl, prow, err := s.locate(ctx, in.ParentID)
		if vodfc.IsCode(err, "comment_not_found") {
			return nil, false, vodfc.NotFound("parent_not_found", "the comment replied to does not exist")
		}
		if err != nil {
			return nil, false, err
		}
		if pl.videoID != videoID {
			return nil, false, vodfc.NotFound("parent_not_found", "the comment replied to does not exist")
		}
		if prow.Int(colDeletedAt) != 0 {
			return nil, false, vodfc.Conflict("parent_deleted", "the comment replied to was deleted")
		}
		if pl.reply() {
			l.rootID = pl.rootID
			replyTo = &CommentRef{ID: pl.id, AuthorID: prow.Str(colAuthor)}
		} else {
			l.rootID = pl.id
		}
	}
	targets := []Counter{{VideoComments, videoID}}
	if l.reply() {
		targets = append(targets, Counter{CommentReplies, videoID + "/" + l.rootID})
	}
	locator := tablestore.Write{Table: tablestore.CommentIDs.Name, Key: tablestore.K("comment_id", id),
		Put: tablestore.Cols{colVideoID: videoID, colRootID: l.rootID}, Cond: tablestore.Always}
	op, err := s.Ledger.Begin(ctx, "comment", targets, locator)
	if err != nil {
		return nil, false, err
	}
	cols := tablestore.Cols{colAuthor: userID, colText: text, colCreatedAt: now.UnixMilli(), colDeletedAt: int64(0),
		colLikes: int64(0), colGen: int64(0)}
	if l.reply() {
		if replyTo != nil {
			cols[colReplyToID], cols[colReplyToUser] = replyTo.ID, replyTo.AuthorID
		}
	} else {
		cols[colReplies] = int64(0)
	}
	err = s.db.Put(ctx, l.table(), l.key(), cols, tablestore.IfNotExists())
	if tablestore.IsConditionFailed(err) { // a retry of this very post got there first
		op.End(ctx)
		c, err := s.getComment(ctx, id, userID)
		return c, false, err
	}
	if err != nil { // maybe applied, maybe not: the intent stays and rollup recounts
		return nil, false, storageErr(err)
	}
	snap, err := op.Add(ctx, targets[0], 1)
	if err != nil {
		return nil, false, storageErr(err)
	}
	if l.reply() {
		if _, err := op.Add(ctx, targets[1], 1); err != nil && !errors.Is(err, ErrOwnerGone) {
			return nil, false, storageErr(err)
		}
	}
	op.End(ctx)
	s.CacheSnapshot(ctx, videoID, snap)
	s.Tally(ctx, videoID, videos.ColComments, 1)
	if !l.reply() {
		if err := s.rdb.RankAdd(ctx, topKey(videoID), id, topScore(0, now)); err != nil {
			s.log.WarnContext(ctx, "updating the top ranking failed", "err", err)
		}
	}
	c, err := s.getComment(ctx, id, userID)
	return c, true, err
}

// getComment reads one comment as its author sees it right after posting.
func (s *Service) getComment(ctx context.Context, id, viewerID string) (*Comment, error) {
	l, row, err := s.locate(ctx, id)
	if err != nil {
		return nil, err
	}
	cs := []*Comment{commentFromRow(l.videoID, row)}
	if err := s.decorate(ctx, viewerID, cs); err != nil {
		return nil, err
	}
	return cs[0], nil
}

func commentFromRow(videoID string, r *tablestore.Row) *Comment {
	c := &Comment{ID: r.Key.Str("comment_id"), VideoID: videoID, RootID: r.Key.Str("root_id"),
		Author: Author{ID: r.Str(colAuthor)}, Text: r.Str(colText), Likes: r.Int(colLikes), ReplyCount: r.Int(colReplies),
		CreatedAt: time.UnixMilli(r.Int(colCreatedAt)).UTC(), Deleted: r.Int(colDeletedAt) != 0}
	if id := r.Str(colReplyToID); id != "" {
		c.ReplyTo = &CommentRef{ID: id, AuthorID: r.Str(colReplyToUser)}
	}
	if c.Deleted {
		c.Text, c.Author = "", Author{}
	}
	return c
}

// decorate fills in authors' nicknames and, for a signed-in viewer, which comments they like:
// two batched reads for the whole page, replies included.
func (s *Service) decorate(ctx context.Context, viewerID string, cs []*Comment) error {
	var all []*Comment
	for _, c := range cs {
		all = append(all, c)
		all = append(all, c.Replies...)
	}
	if len(all) == 0 {
		return nil
	}
	var wg sync.WaitGroup
	var nickErr, likeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		seen := map[string]bool{}
		var keys []tablestore.Key
		for _, c := range all {
			if c.Author.ID != "" && !seen[c.Author.ID] {
				seen[c.Author.ID] = true
				keys = append(keys, tablestore.K("user_id", c.Author.ID))
			}
		}
		rows, err := s.db.BatchGet(ctx, tablestore.Users.Name, keys, "nickname")
		if err != nil {
			nickErr = err
			return
		}
		nick := map[string]string{}
		for _, r := range rows {
			if r != nil {
				nick[r.Key.Str("user_id")] = r.Str("nickname")
			}
		}
		for _, c := range all {
			c.Author.Nickname = nick[c.Author.ID]
		}
	}()
	if viewerID != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keys := make([]tablestore.Key, len(all))
			for i, c := range all {
				keys[i] = tablestore.K("comment_id", c.ID, "user_id", viewerID)
			}
			rows, err := s.db.BatchGet(ctx, tablestore.CommentLikes.Name, keys, colLikedAt)
			if err != nil {
				likeErr = err
				return
			}
			for i, r := range rows {
				all[i].Liked = r != nil
			}
		}()
	}
	wg.Wait()
	if nickErr != nil {
		// Nicknames are decoration: a page without them beats no page.
		s.log.WarnContext(ctx, "reading nicknames failed", "err", nickErr)
	}
	return storageErr(likeErr)
}

// Comments lists a video's top-level comments, newest first (sort "new") or by likes ("top"),
// each with its first replies.
func (s *Service) Comments(ctx context.Context, viewerID, videoID, sort string, page httpapi.Page) (httpapi.List[*Comment], error) {
	out := httpapi.List[*Comment]{Items: []*Comment{}}
	if _, err := s.Gate.Readable(ctx, videoID, viewerID); err != nil {
		return out, err
	}
	var rows []*tablestore.Row
	switch sort {
	case "", "new":
		start := tablestore.K("video_id", videoID, "comment_id", tablestore.Max)
		if page.Cursor != "" {
			k, err := cursorKey(page.Cursor, tablestore.K("video_id", videoID), "video_id", "comment_id")
			if err != nil {
				return out, err
			}
			start = k
		}
		rs, next, err := s.db.GetRange(ctx, tablestore.Comments.Name, tablestore.Range{Start: start,
			End: tablestore.K("video_id", videoID, "comment_id", tablestore.Min), Backward: true, Limit: page.Limit})
		if err != nil {
			return out, storageErr(err)
		}
		rows, out.NextCursor = rs, keyCursor(next)
	case "top":
		var cur struct {
			Offset int `json:"o"`
		}
		if page.Cursor != "" {
			if err := httpapi.DecodeCursor(page.Cursor, &cur); err != nil || cur.Offset < 0 || cur.Offset > rankCap {
				return out, vodfc.E(vodfc.KindInvalid, "invalid_cursor", "cursor is malformed; start again without one")
			}
		}
		ids, err := s.topPage(ctx, videoID, cur.Offset, page.Limit)
		if err != nil {
			return out, err
		}
		keys := make([]tablestore.Key, len(ids))
		for i, id := range ids {
			keys[i] = tablestore.K("video_id", videoID, "comment_id", id)
		}
		rs, err := s.db.BatchGet(ctx, tablestore.Comments.Name, keys)
		if err != nil {
			return out, storageErr(err)
		}
		for _, r := range rs {
			if r != nil {
				rows = append(rows, r)
			}
		}
		if len(ids) == page.Limit {
			cur.Offset += page.Limit
			out.NextCursor, _ = httpapi.EncodeCursor(cur)
		}
	default:
		return out, &vodfc.Error{Kind: vodfc.KindInvalid, Code: "invalid_sort", Message: "sort is new or top",
			Fields: map[string]string{"sort": "must be new or top"}}
	}
	for _, r := range rows {
		c := commentFromRow(videoID, r)
		if c.Deleted && c.ReplyCount == 0 {
			continue // nothing left to show
		}
		out.Items = append(out.Items, c)
	}
	if err := s.nestReplies(ctx, videoID, out.Items); err != nil {
		return out, err
	}
	return out, s.decorate(ctx, viewerID, out.Items)
}

// topPage returns ids from the video's "top" ranking, rebuilding it from the comments table
// when Redis does not have it.
func (s *Service) topPage(ctx context.Context, videoID string, offset, n int) ([]string, error) {
	ids, built, err := s.rdb.RankPage(ctx, topKey(videoID), offset, n)
	if err == nil && built {
		return ids, nil
	}
	if err != nil {
		s.log.WarnContext(ctx, "top ranking unavailable; ranking from storage", "err", err)
	}
	members := map[string]float64{}
	var count int
	err = s.db.Scan(ctx, tablestore.Comments.Name, tablestore.Range{
		Start: tablestore.K("video_id", videoID, "comment_id", tablestore.Max),
		End:   tablestore.K("video_id", videoID, "comment_id", tablestore.Min), Backward: true,
		Cols: []string{colLikes, colCreatedAt, colDeletedAt, colReplies}}, func(r *tablestore.Row) error {
		if r.Int(colDeletedAt) == 0 || r.Int(colReplies) > 0 {
			members[r.Key.Str("comment_id")] = topScore(r.Int(colLikes), time.UnixMilli(r.Int(colCreatedAt)))
		}
		if count++; count >= rankCap {
			return tablestore.ErrStop
		}
		return nil
	})
	if err != nil {
		return nil, storageErr(err)
	}
	if err := s.rdb.RankFill(ctx, topKey(videoID), members, rankTTL); err != nil {
		s.log.WarnContext(ctx, "storing the top ranking failed", "err", err)
	}
	ranked := make([]string, 0, len(members))
	for id := range members {
		ranked = append(ranked, id)
	}
	sortByScore(ranked, members)
	if offset >= len(ranked) {
		return nil, nil
	}
	return ranked[offset:min(offset+n, len(ranked))], nil
}

// nestReplies gives every listed thread its first replies, reading the threads in parallel.
func (s *Service) nestReplies(ctx context.Context, videoID string, cs []*Comment) error {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	errs := make([]error, len(cs))
	for i, c := range cs {
		if c.ReplyCount == 0 {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			rows, _, err := s.db.GetRange(ctx, tablestore.CommentReplies.Name, tablestore.Range{
				Start: tablestore.K("video_id", videoID, "root_id", c.ID, "comment_id", tablestore.Min),
				End:   tablestore.K("video_id", videoID, "root_id", c.ID, "comment_id", tablestore.Max),
				Limit: nestedReplies, Where: []tablestore.Pred{tablestore.Eq(colDeletedAt, int64(0))}})
			if err != nil {
				errs[i] = err
				return
			}
			for _, r := range rows {
				c.Replies = append(c.Replies, commentFromRow(videoID, r))
			}
		}()
	}
	wg.Wait()
	return storageErr(errors.Join(errs...))
}

// Replies lists one thread's replies, oldest first.
func (s *Service) Replies(ctx context.Context, viewerID, commentID string, page httpapi.Page) (httpapi.List[*Comment], error) {
	out := httpapi.List[*Comment]{Items: []*Comment{}}
	l, _, err := s.locate(ctx, commentID)
	if err != nil {
		return out, err
	}
	if l.reply() {
		return out, vodfc.Invalid("not_a_thread", "replies are listed by the thread's top-level comment")
	}
	if _, err := s.Gate.Readable(ctx, l.videoID, viewerID); err != nil {
		return out, errCommentNotFound()
	}
	start := tablestore.K("video_id", l.videoID, "root_id", l.id, "comment_id", tablestore.Min)
	if page.Cursor != "" {
		k, err := cursorKey(page.Cursor, tablestore.K("video_id", l.videoID, "root_id", l.id), "video_id", "root_id", "comment_id")
		if err != nil {
			return out, err
		}
		start = k
	}
	rows, next, err := s.db.GetRange(ctx, tablestore.CommentReplies.Name, tablestore.Range{Start: start,
		End:   tablestore.K("video_id", l.videoID, "root_id", l.id, "comment_id", tablestore.Max),
		Limit: page.Limit, Where: []tablestore.Pred{tablestore.Eq(colDeletedAt, int64(0))}})
	if err != nil {
		return out, storageErr(err)
	}
	for _, r := range rows {
		out.Items = append(out.Items, commentFromRow(l.videoID, r))
	}
	out.NextCursor = keyCursor(next)
	return out, s.decorate(ctx, viewerID, out.Items)
}

// DeleteComment deletes a comment; its author or the video's owner may. Deleting a deleted
// comment succeeds (DELETE is idempotent).
func (s *Service) DeleteComment(ctx context.Context, userID, commentID string) error {
	l, row, err := s.locate(ctx, commentID)
	if err != nil {
		return err
	}
	info, err := s.Gate.Info(ctx, l.videoID)
	if err != nil {
		return err
	}
	if row.Str(colAuthor) != userID && info.OwnerID != userID {
		if !info.VisibleTo(userID) { // a 403 would confirm the comment, and the hidden video
			return errCommentNotFound()
		}
		return vodfc.Forbidden("not_comment_author", "only its author or the video's owner may delete a comment")
	}
	if row.Int(colDeletedAt) != 0 {
		return nil
	}
	targets := []Counter{{VideoComments, l.videoID}}
	if l.reply() {
		targets = append(targets, Counter{CommentReplies, l.videoID + "/" + l.rootID})
	}
	op, err := s.Ledger.Begin(ctx, "uncomment", targets)
	if err != nil {
		return err
	}
	_, err = s.db.Update(ctx, l.table(), l.key(), tablestore.Change{Set: tablestore.Cols{colDeletedAt: s.now().UnixMilli()}},
		tablestore.IfExists().Where(tablestore.Eq(colDeletedAt, int64(0))))
	if tablestore.IsConditionFailed(err) { // deleted meanwhile
		op.End(ctx)
		return nil
	}
	if err != nil { // maybe applied, maybe not: the intent stays and rollup recounts
		return storageErr(err)
	}
	snap, err := op.Add(ctx, targets[0], -1)
	if err != nil && !errors.Is(err, ErrOwnerGone) {
		return storageErr(err)
	}
	if l.reply() {
		if _, err := op.Add(ctx, targets[1], -1); err != nil && !errors.Is(err, ErrOwnerGone) {
			return storageErr(err)
		}
	}
	op.End(ctx)
	s.CacheSnapshot(ctx, l.videoID, snap)
	s.Tally(ctx, l.videoID, videos.ColComments, -1)
	if !l.reply() && row.Int(colReplies) == 0 {
		if err := s.rdb.RankRemove(ctx, topKey(l.videoID), l.id); err != nil {
			s.log.WarnContext(ctx, "updating the top ranking failed", "err", err)
		}
	}
	return nil
}

// CommentLikeState is the answer to liking a comment.
type CommentLikeState struct {
	Liked bool  `json:"liked"`
	Likes int64 `json:"likes"`
}

// LikeComment likes (like true) or unlikes a comment; idempotent both ways.
func (s *Service) LikeComment(ctx context.Context, userID, commentID string, like bool) (CommentLikeState, error) {
	l, row, err := s.locate(ctx, commentID)
	if err != nil {
		return CommentLikeState{}, err
	}
	if like && row.Int(colDeletedAt) != 0 {
		return CommentLikeState{}, errCommentNotFound()
	}
	if like {
		_, err = s.Gate.Actionable(ctx, l.videoID, userID)
	} else {
		_, err = s.Gate.Readable(ctx, l.videoID, userID)
	}
	if err != nil {
		if vodfc.IsCode(err, "video_not_found") {
			return CommentLikeState{}, errCommentNotFound()
		}
		return CommentLikeState{}, err
	}
	edgeKey := tablestore.K("comment_id", commentID, "user_id", userID)
	edge, err := s.db.Get(ctx, tablestore.CommentLikes.Name, edgeKey, colLikedAt)
	if err != nil {
		return CommentLikeState{}, storageErr(err)
	}
	if (edge != nil) == like {
		return CommentLikeState{Liked: like, Likes: row.Int(colLikes)}, nil
	}
	target := l.likesCounter()
	op, err := s.Ledger.Begin(ctx, map[bool]string{true: "comment_like", false: "comment_unlike"}[like], []Counter{target})
	if err != nil {
		return CommentLikeState{}, err
	}
	delta := int64(1)
	if like {
		err = s.db.Put(ctx, tablestore.CommentLikes.Name, edgeKey, tablestore.Cols{colLikedAt: s.now().UnixMilli()}, tablestore.IfNotExists())
	} else {
		delta = -1
		err = s.db.Delete(ctx, tablestore.CommentLikes.Name, edgeKey, tablestore.IfExists())
	}
	if tablestore.IsConditionFailed(err) { // a racing request made the same change
		op.End(ctx)
		r, err := s.db.Get(ctx, l.table(), l.key(), colLikes)
		if err != nil || r == nil {
			return CommentLikeState{}, storageErr(err)
		}
		return CommentLikeState{Liked: like, Likes: r.Int(colLikes)}, nil
	}
	if err != nil { // maybe applied, maybe not: the intent stays and rollup recounts
		return CommentLikeState{}, storageErr(err)
	}
	snap, err := op.Add(ctx, target, delta)
	if errors.Is(err, ErrOwnerGone) {
		op.End(ctx)
		return CommentLikeState{}, errCommentNotFound()
	}
	if err != nil {
		return CommentLikeState{}, storageErr(err)
	}
	op.End(ctx)
	if !l.reply() {
		if err := s.rdb.RankIncr(ctx, topKey(l.videoID), l.id, float64(delta)); err != nil {
			s.log.WarnContext(ctx, "updating the top ranking failed", "err", err)
		}
	}
	return CommentLikeState{Liked: like, Likes: snap[colLikes]}, nil
}

// countVideoComments is the truth of video.comments: live comments and replies.
func (s *Service) countVideoComments(ctx context.Context, videoID string) (int64, error) {
	live := tablestore.Eq(colDeletedAt, int64(0))
	top, err := countRange(ctx, s.db, tablestore.Comments.Name,
		tablestore.K("video_id", videoID, "comment_id", tablestore.Min), tablestore.K("video_id", videoID, "comment_id", tablestore.Max),
		colDeletedAt, live)
	if err != nil {
		return 0, err
	}
	replies, err := countRange(ctx, s.db, tablestore.CommentReplies.Name,
		tablestore.K("video_id", videoID, "root_id", tablestore.Min, "comment_id", tablestore.Min),
		tablestore.K("video_id", videoID, "root_id", tablestore.Max, "comment_id", tablestore.Max), colDeletedAt, live)
	return top + replies, err
}

// countReplies is the truth of comment.replies: a thread's live replies.
func (s *Service) countReplies(ctx context.Context, ref string) (int64, error) {
	p, err := splitRef(ref, 2)
	if err != nil {
		return 0, err
	}
	return countRange(ctx, s.db, tablestore.CommentReplies.Name,
		tablestore.K("video_id", p[0], "root_id", p[1], "comment_id", tablestore.Min),
		tablestore.K("video_id", p[0], "root_id", p[1], "comment_id", tablestore.Max), colDeletedAt, tablestore.Eq(colDeletedAt, int64(0)))
}

// countCommentLikes is the truth of a comment's likes: its like edges.
func (s *Service) countCommentLikes(ctx context.Context, ref string) (int64, error) {
	parts := strings.Split(ref, "/")
	id := parts[len(parts)-1]
	return countRange(ctx, s.db, tablestore.CommentLikes.Name,
		tablestore.K("comment_id", id, "user_id", tablestore.Min), tablestore.K("comment_id", id, "user_id", tablestore.Max), colLikedAt)
}

// sortByScore orders ids by descending score, then id.
func sortByScore(ids []string, score map[string]float64) {
	slices.SortFunc(ids, func(a, b string) int {
		switch {
		case score[a] > score[b]:
			return -1
		case score[a] < score[b]:
			return 1
		}
		return strings.Compare(b, a)
	})
}
