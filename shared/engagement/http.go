package engagement

import (
	"context"
	"net/http"
	"strings"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/tablestore"
)

// Register adds the engagement routes (docs/openapi.yaml, x-function engagement) to r.
func (s *Service) Register(r *httpapi.Router, v httpapi.TokenVerifier) {
	auth, opt := httpapi.RequireAuth(v), httpapi.OptionalAuth(v)
	small := httpapi.MaxBody(4 << 10)
	r.HandleFunc("PUT /api/v1/videos/{id}/like", s.handleLike(true), auth)
	r.HandleFunc("DELETE /api/v1/videos/{id}/like", s.handleLike(false), auth)
	r.HandleFunc("GET /api/v1/me/likes", s.handleMyLikes, auth)
	r.HandleFunc("GET /api/v1/me/engagement", s.handleMyEngagement, auth)
	r.HandleFunc("GET /api/v1/me/favourites/folders", s.handleFolders, auth)
	r.HandleFunc("POST /api/v1/me/favourites/folders", s.handleCreateFolder, auth, small)
	r.HandleFunc("PATCH /api/v1/me/favourites/folders/{fid}", s.handleUpdateFolder, auth, small)
	r.HandleFunc("DELETE /api/v1/me/favourites/folders/{fid}", s.handleDeleteFolder, auth)
	r.HandleFunc("GET /api/v1/me/favourites/folders/{fid}/videos", s.handleFolderVideos, auth)
	r.HandleFunc("PUT /api/v1/me/favourites/folders/{fid}/videos/{vid}", s.handleFavourite(true), auth)
	r.HandleFunc("DELETE /api/v1/me/favourites/folders/{fid}/videos/{vid}", s.handleFavourite(false), auth)
	r.HandleFunc("POST /api/v1/videos/{id}/comments", s.handlePostComment, auth, httpapi.MaxBody(16<<10))
	r.HandleFunc("GET /api/v1/videos/{id}/comments", s.handleComments, opt)
	r.HandleFunc("GET /api/v1/comments/{cid}/replies", s.handleReplies, opt)
	r.HandleFunc("DELETE /api/v1/comments/{cid}", s.handleDeleteComment, auth)
	r.HandleFunc("PUT /api/v1/comments/{cid}/like", s.handleCommentLike(true), auth)
	r.HandleFunc("DELETE /api/v1/comments/{cid}/like", s.handleCommentLike(false), auth)
	r.HandleFunc("POST /api/v1/videos/{id}/views", s.handleView, opt, httpapi.MaxBody(1<<10))
}

func userOf(r *http.Request) string {
	p, _ := httpapi.PrincipalFrom(r.Context())
	return p.UserID
}

func (s *Service) handleLike(like bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var st LikeState
		var err error
		if like {
			st, err = s.Like(r.Context(), userOf(r), r.PathValue("id"))
		} else {
			st, err = s.Unlike(r.Context(), userOf(r), r.PathValue("id"))
		}
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, st)
	}
}

func (s *Service) handleMyLikes(w http.ResponseWriter, r *http.Request) {
	page, err := httpapi.ParsePage(r, 20, 100)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	list, err := s.Likes(r.Context(), userOf(r), page)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, list)
}

// VideoEngagement is what the caller did to one video.
type VideoEngagement struct {
	VideoID    string   `json:"video_id"`
	Liked      bool     `json:"liked"`
	Favourited bool     `json:"favourited"`
	Folders    []string `json:"folders"`
}

// maxEngagementIDs is what one BatchGetRow reads.
const maxEngagementIDs = 100

func (s *Service) handleMyEngagement(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("videos")
	var ids []string
	seen := map[string]bool{}
	for _, id := range strings.Split(raw, ",") {
		id = strings.TrimSpace(id)
		if id == "" || seen[id] {
			continue
		}
		if !vodfc.ValidID(id) {
			httpapi.WriteError(w, r, &vodfc.Error{Kind: vodfc.KindInvalid, Code: "invalid_video_ids",
				Message: "videos is a comma-separated list of video ids", Fields: map[string]string{"videos": "malformed id " + truncate(id, 32)}})
			return
		}
		seen[id] = true
		ids = append(ids, id)
	}
	if len(ids) == 0 || len(ids) > maxEngagementIDs {
		httpapi.WriteError(w, r, &vodfc.Error{Kind: vodfc.KindInvalid, Code: "invalid_video_ids",
			Message: "videos lists 1 to 100 video ids", Fields: map[string]string{"videos": "must list 1 to 100 ids"}})
		return
	}
	items, err := s.Engagement(r.Context(), userOf(r), ids)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, struct {
		Items []VideoEngagement `json:"items"`
	}{items})
}

// Engagement reads the caller's likes and favourites of many videos: two batched reads.
func (s *Service) Engagement(ctx context.Context, userID string, ids []string) ([]VideoEngagement, error) {
	likeKeys := make([]tablestore.Key, len(ids))
	favKeys := make([]tablestore.Key, len(ids))
	for i, id := range ids {
		likeKeys[i], favKeys[i] = likeKey(id, userID), favKey(id, userID)
	}
	type result struct {
		rows []*tablestore.Row
		err  error
	}
	favc := make(chan result, 1)
	go func() {
		rows, err := s.db.BatchGet(ctx, tablestore.VideoFavourites.Name, favKeys)
		favc <- result{rows, err}
	}()
	likes, err := s.db.BatchGet(ctx, tablestore.VideoLikes.Name, likeKeys, colLikedAt)
	favs := <-favc
	if err == nil {
		err = favs.err
	}
	if err != nil {
		return nil, storageErr(err)
	}
	out := make([]VideoEngagement, len(ids))
	for i, id := range ids {
		folders := edgeFolders(favs.rows[i])
		out[i] = VideoEngagement{VideoID: id, Liked: likes[i] != nil, Favourited: len(folders) > 0, Folders: folders}
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func (s *Service) handleFolders(w http.ResponseWriter, r *http.Request) {
	fs, err := s.Folders(r.Context(), userOf(r))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, struct {
		Items []Folder `json:"items"`
	}{fs})
}

func (s *Service) handleCreateFolder(w http.ResponseWriter, r *http.Request) {
	var in FolderInput
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	f, err := s.CreateFolder(r.Context(), userOf(r), in)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/me/favourites/folders/"+f.ID)
	httpapi.WriteJSON(w, http.StatusCreated, f)
}

func (s *Service) handleUpdateFolder(w http.ResponseWriter, r *http.Request) {
	var in FolderInput
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	f, err := s.UpdateFolder(r.Context(), userOf(r), r.PathValue("fid"), in)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, f)
}

func (s *Service) handleDeleteFolder(w http.ResponseWriter, r *http.Request) {
	if err := s.DeleteFolder(r.Context(), userOf(r), r.PathValue("fid")); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) handleFolderVideos(w http.ResponseWriter, r *http.Request) {
	page, err := httpapi.ParsePage(r, 20, 100)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	list, err := s.FolderVideos(r.Context(), userOf(r), r.PathValue("fid"), page)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, list)
}

func (s *Service) handleFavourite(add bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var st FavouriteState
		var err error
		if add {
			st, err = s.AddToFolder(r.Context(), userOf(r), r.PathValue("fid"), r.PathValue("vid"))
		} else {
			st, err = s.RemoveFromFolder(r.Context(), userOf(r), r.PathValue("fid"), r.PathValue("vid"))
		}
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, st)
	}
}

func (s *Service) handlePostComment(w http.ResponseWriter, r *http.Request) {
	var in CommentInput
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	c, created, err := s.PostComment(r.Context(), userOf(r), r.PathValue("id"), in, r.Header.Get("Idempotency-Key"))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	status := http.StatusOK // a retry with the same Idempotency-Key
	if created {
		status = http.StatusCreated
	}
	httpapi.WriteJSON(w, status, c)
}

func (s *Service) handleComments(w http.ResponseWriter, r *http.Request) {
	page, err := httpapi.ParsePage(r, 20, 50)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	list, err := s.Comments(r.Context(), userOf(r), r.PathValue("id"), r.URL.Query().Get("sort"), page)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, list)
}

func (s *Service) handleReplies(w http.ResponseWriter, r *http.Request) {
	page, err := httpapi.ParsePage(r, 20, 100)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	list, err := s.Replies(r.Context(), userOf(r), r.PathValue("cid"), page)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, list)
}

func (s *Service) handleDeleteComment(w http.ResponseWriter, r *http.Request) {
	if err := s.DeleteComment(r.Context(), userOf(r), r.PathValue("cid")); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) handleCommentLike(like bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st, err := s.LikeComment(r.Context(), userOf(r), r.PathValue("cid"), like)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, st)
	}
}

func (s *Service) handleView(w http.ResponseWriter, r *http.Request) {
	var in ViewInput
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	address := ""
	if s.cfg.ViewsPerAddress > 0 {
		address = httpapi.ClientIP(r, s.cfg.ProxyHops)
	}
	st, err := s.Heartbeat(r.Context(), userOf(r), address, r.PathValue("id"), in)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, st)
}
