package engagement

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/tablestore"
)

func (h *harness) comment(user, vid, text, parent string) *Comment {
	h.t.Helper()
	var c Comment
	body := map[string]string{"text": text}
	if parent != "" {
		body["parent_id"] = parent
	}
	if code, _, b := h.call("POST", "/api/v1/videos/"+vid+"/comments", user, body, &c); code != 201 {
		h.t.Fatalf("comment: %d %s", code, b)
	}
	return &c
}

func (h *harness) comments(user, vid, query string) httpapi.List[*Comment] {
	h.t.Helper()
	var list httpapi.List[*Comment]
	if code, _, b := h.call("GET", "/api/v1/videos/"+vid+"/comments"+query, user, nil, &list); code != 200 {
		h.t.Fatalf("comments: %d %s", code, b)
	}
	return list
}

func TestCommentsThreadsAndCounts(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.db.Put(ctx, tablestore.Users.Name, tablestore.K("user_id", "alice"), tablestore.Cols{"nickname": "Alice"}, tablestore.Always)
	vid := h.video("owner")
	first := h.comment("alice", vid, "  first!\u202e\x07  ", "")
	if first.Text != "first!" || first.Author.Nickname != "Alice" || first.RootID != "" {
		t.Fatalf("first: %+v", first)
	}
	h.advance(time.Second)
	second := h.comment("bob", vid, "second\nline two", "")
	r1 := h.comment("bob", vid, "reply", first.ID)
	h.advance(time.Millisecond) // ids order within a millisecond is arbitrary
	r2 := h.comment("carol", vid, "reply to a reply", r1.ID)
	if r1.RootID != first.ID || r2.RootID != first.ID || r2.ReplyTo == nil || r2.ReplyTo.ID != r1.ID || r2.ReplyTo.AuthorID != "bob" {
		t.Fatalf("replies: %+v %+v", r1, r2)
	}
	if got := h.counts(vid).Comments; got != 4 {
		t.Fatalf("video comments %d", got)
	}
	list := h.comments("alice", vid, "")
	if len(list.Items) != 2 || list.Items[0].ID != second.ID || list.Items[1].ID != first.ID ||
		list.Items[1].ReplyCount != 2 || len(list.Items[1].Replies) != 2 || list.Items[1].Replies[0].ID != r1.ID {
		for _, c := range list.Items {
			t.Logf("%+v", *c)
		}
		t.Fatalf("new: want %s then %s", second.ID, first.ID)
	}
	// Likes reorder "top".
	var st CommentLikeState
	h.call("PUT", "/api/v1/comments/"+first.ID+"/like", "bob", nil, &st)
	h.call("PUT", "/api/v1/comments/"+first.ID+"/like", "bob", nil, &st)
	if !st.Liked || st.Likes != 1 {
		t.Fatalf("comment like: %+v", st)
	}
	h.call("PUT", "/api/v1/comments/"+r1.ID+"/like", "alice", nil, &st)
	top := h.comments("bob", vid, "?sort=top")
	if len(top.Items) != 2 || top.Items[0].ID != first.ID || !top.Items[0].Liked || top.Items[1].Liked || top.Items[0].Replies[0].Likes != 1 {
		t.Fatalf("top: %+v", top.Items)
	}
	// The ranking survives losing Redis: it is rebuilt from the table.
	h.mr.FlushAll()
	if top := h.comments("", vid, "?sort=top&limit=1"); len(top.Items) != 1 || top.Items[0].ID != first.ID || top.NextCursor == "" {
		t.Fatalf("rebuilt top: %+v", top)
	} else if next := h.comments("", vid, "?sort=top&limit=1&cursor="+top.NextCursor); len(next.Items) != 1 || next.Items[0].ID != second.ID {
		t.Fatalf("top page 2: %+v", next.Items)
	}
	// Per-thread paging.
	var replies httpapi.List[*Comment]
	h.call("GET", "/api/v1/comments/"+first.ID+"/replies?limit=1", "", nil, &replies)
	if len(replies.Items) != 1 || replies.Items[0].ID != r1.ID || replies.NextCursor == "" {
		t.Fatalf("replies page: %+v", replies)
	}
	// Deleting: a reply by its author, a thread root by the video's owner.
	if code, _, b := h.call("DELETE", "/api/v1/comments/"+r2.ID, "carol", nil, nil); code != 204 {
		t.Fatalf("delete reply: %d %s", code, b)
	}
	if code, _, b := h.call("DELETE", "/api/v1/comments/"+first.ID, "owner", nil, nil); code != 204 {
		t.Fatalf("owner deletes: %d %s", code, b)
	}
	if code, _, _ := h.call("DELETE", "/api/v1/comments/"+first.ID, "owner", nil, nil); code != 204 {
		t.Fatal("deleting twice is not idempotent")
	}
	list = h.comments("", vid, "")
	if len(list.Items) != 2 || !list.Items[1].Deleted || list.Items[1].Text != "" || list.Items[1].ReplyCount != 1 {
		t.Fatalf("after deletes: %+v", list.Items[1])
	}
	if got := h.counts(vid).Comments; got != 2 {
		t.Fatalf("video comments %d after deleting two", got)
	}
	if rep := h.repair(); rep.Intents != 0 {
		t.Fatalf("intents left: %+v", rep)
	}
}

func TestCommentIdempotencyKeyMakesOneComment(t *testing.T) {
	h := newHarness(t)
	vid := h.video("owner")
	var wg sync.WaitGroup
	codes := make([]int, 8)
	ids := make([]string, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c Comment
			req, _ := http.NewRequest("POST", h.srv.URL+"/api/v1/videos/"+vid+"/comments", strings.NewReader(`{"text":"once"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+h.token("alice"))
			req.Header.Set("Idempotency-Key", "k-1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			codes[i] = resp.StatusCode
			_ = decodeJSON(resp, &c)
			ids[i] = c.ID
		}()
	}
	wg.Wait()
	created := 0
	for i, code := range codes {
		if code == 201 {
			created++
		}
		if code != 201 && code != 200 || ids[i] != ids[0] {
			t.Fatalf("answers %v ids %v", codes, ids)
		}
	}
	if created != 1 || h.counts(vid).Comments != 1 || h.rows(tablestore.Comments, "video_id", vid) != 1 {
		t.Fatalf("created %d, comments %d", created, h.counts(vid).Comments)
	}
}

func TestCommentRules(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.CommentRate.Count, c.CommentRate.Per, c.CommentRate.Burst = 3, time.Minute, 3 })
	vid, other := h.video("owner"), h.video("owner")
	c := h.comment("alice", vid, "hello", "")
	post := func(user, v string, body any) (int, http.Header, []byte) {
		return h.call("POST", "/api/v1/videos/"+v+"/comments", user, body, nil)
	}
	t.Run("an empty comment is comment_empty", func(t *testing.T) {
		code, hdr, b := post("bob", vid, map[string]string{"text": " \n\t\x00 "})
		h.problem(400, "comment_empty", code, hdr, b)
	})
	t.Run("1001 characters is comment_too_long", func(t *testing.T) {
		code, hdr, b := post("bob", vid, map[string]string{"text": strings.Repeat("字", 1001)})
		h.problem(400, "comment_too_long", code, hdr, b)
		if code, _, b := post("bob", vid, map[string]string{"text": strings.Repeat("字", 1000)}); code != 201 {
			t.Fatalf("1000 characters refused: %d %s", code, b)
		}
	})
	t.Run("a parent on another video is parent_not_found", func(t *testing.T) {
		code, hdr, b := post("bob", other, map[string]string{"text": "x", "parent_id": c.ID})
		h.problem(404, "parent_not_found", code, hdr, b)
		code, hdr, b = post("bob", vid, map[string]string{"text": "x", "parent_id": "0000000000000000"})
		h.problem(404, "parent_not_found", code, hdr, b)
	})
	t.Run("without a token is 401", func(t *testing.T) {
		code, hdr, b := post("", vid, map[string]string{"text": "x"})
		h.problem(401, "authentication_required", code, hdr, b)
	})
	t.Run("a private video is video_not_found", func(t *testing.T) {
		code, hdr, b := post("bob", h.video("owner", private), map[string]string{"text": "x"})
		h.problem(404, "video_not_found", code, hdr, b)
		code, hdr, b = h.call("GET", "/api/v1/videos/"+h.video("owner", private)+"/comments", "bob", nil, nil)
		h.problem(404, "video_not_found", code, hdr, b)
	})
	t.Run("deleting someone else's comment is not_comment_author", func(t *testing.T) {
		code, hdr, b := h.call("DELETE", "/api/v1/comments/"+c.ID, "bob", nil, nil)
		h.problem(403, "not_comment_author", code, hdr, b)
	})
	t.Run("deleting a comment of a private video one cannot see is comment_not_found", func(t *testing.T) {
		// A 403 here would tell a stranger the id exists, and so that the private video has
		// this comment; they must get what an unknown id gets.
		hidden := h.video("owner", private)
		oc := h.comment("owner", hidden, "note to self", "")
		code, hdr, b := h.call("DELETE", "/api/v1/comments/"+oc.ID, "bob", nil, nil)
		h.problem(404, "comment_not_found", code, hdr, b)
		if code, _, b := h.call("DELETE", "/api/v1/comments/"+oc.ID, "owner", nil, nil); code != 204 {
			t.Fatalf("the owner deleting: %d %s", code, b)
		}
	})
	t.Run("an unknown comment is comment_not_found", func(t *testing.T) {
		code, hdr, b := h.call("PUT", "/api/v1/comments/0000000000000000/like", "bob", nil, nil)
		h.problem(404, "comment_not_found", code, hdr, b)
	})
	t.Run("a bad sort is invalid_sort", func(t *testing.T) {
		code, hdr, b := h.call("GET", "/api/v1/videos/"+vid+"/comments?sort=hot", "", nil, nil)
		h.problem(400, "invalid_sort", code, hdr, b)
	})
	t.Run("a reply's replies are not_a_thread", func(t *testing.T) {
		r := h.comment("carol", vid, "r", c.ID)
		code, hdr, b := h.call("GET", "/api/v1/comments/"+r.ID+"/replies", "", nil, nil)
		h.problem(400, "not_a_thread", code, hdr, b)
	})
	t.Run("too many comments is comment_rate_limited with Retry-After", func(t *testing.T) {
		var code int
		var hdr http.Header
		var b []byte
		for range 4 {
			code, hdr, b = post("dave", vid, map[string]string{"text": "spam"})
		}
		h.problem(429, "comment_rate_limited", code, hdr, b)
		if hdr.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
	})
}

func TestConcurrentCommentLikesCountEdges(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	vid := h.video("owner")
	c := h.comment("alice", vid, "like me", "")
	var wg sync.WaitGroup
	for u := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf("u%d", u)
			_, _ = h.svc.LikeComment(ctx, user, c.ID, true)
			_, _ = h.svc.LikeComment(ctx, user, c.ID, u%2 == 0)
		}()
	}
	wg.Wait()
	edges := h.rows(tablestore.CommentLikes, "comment_id", c.ID)
	r, _ := h.db.Get(ctx, tablestore.Comments.Name, tablestore.K("video_id", vid, "comment_id", c.ID))
	if edges != 15 || r.Int(colLikes) != edges {
		t.Fatalf("likes %d, edges %d", r.Int(colLikes), edges)
	}
}
