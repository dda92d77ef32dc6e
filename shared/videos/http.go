package videos

import (
	"log/slog"
	"net/http"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/oss"
)

// Page sizes of the lists.
const (
	DefaultPageSize = 20
	MaxPageSize     = 50
)

// Register adds the videos API to r. verify proves callers' access tokens.
func (s *Service) Register(r *httpapi.Router, verify httpapi.TokenVerifier) {
	auth, optional := httpapi.RequireAuth(verify), httpapi.OptionalAuth(verify)
	r.HandleFunc("POST /api/v1/videos", s.handleCreate, auth, httpapi.MaxBody(16<<10))
	r.HandleFunc("GET /api/v1/videos/{id}", s.handleGet, optional)
	r.HandleFunc("PATCH /api/v1/videos/{id}", s.handleEdit, auth, httpapi.MaxBody(16<<10))
	r.HandleFunc("DELETE /api/v1/videos/{id}", s.handleDelete, auth)
	r.HandleFunc("POST /api/v1/videos/{id}/upload", s.handleRestart, auth)
	r.HandleFunc("GET /api/v1/videos/{id}/upload", s.handleUpload, auth)
	r.HandleFunc("DELETE /api/v1/videos/{id}/upload", s.handleAbort, auth)
	r.HandleFunc("POST /api/v1/videos/{id}/upload/parts", s.handleParts, auth)
	r.HandleFunc("POST /api/v1/videos/{id}/upload/complete", s.handleComplete, auth, httpapi.MaxBody(1<<20))
	r.HandleFunc("GET /api/v1/me/videos", s.handleListMine, auth)
	r.HandleFunc("GET /api/v1/users/{id}/videos", s.handleListUser, optional)
}

// View is a video as the API shows it.
type View struct {
	ID            string           `json:"id"`
	Owner         string           `json:"owner"`
	Title         string           `json:"title"`
	Description   string           `json:"description"`
	Tags          []string         `json:"tags"`
	Visibility    vodfc.Visibility `json:"visibility"`
	Status        string           `json:"status"`
	Progress      int              `json:"progress"`
	FailureCode   string           `json:"failure_code,omitempty"`
	DurationS     float64          `json:"duration_s"`
	Width         int              `json:"width"`
	Height        int              `json:"height"`
	Renditions    []RenditionView  `json:"renditions"`
	CoverURL      string           `json:"cover_url,omitempty"`
	StoryboardURL string           `json:"storyboard_url,omitempty"`
	PlayURL       string           `json:"play_url,omitempty"`
	Counts        vodfc.Counts     `json:"counts"`
	CreatedAt     time.Time        `json:"created_at"`
	PublishedAt   *time.Time       `json:"published_at,omitempty"`
}

// RenditionView is one rung of a video's ladder.
type RenditionView struct {
	Height    int     `json:"height"`
	Width     int     `json:"width"`
	Bandwidth int     `json:"bandwidth"`
	Codecs    string  `json:"codecs"`
	FrameRate float64 `json:"frame_rate"`
}

// View renders v for the API. Media URLs appear once the video is ready: the cover as a
// presigned URL, the storyboard and the play URL on the playback function.
func (s *Service) View(v *vodfc.Video) View {
	out := View{ID: v.ID, Owner: v.OwnerID, Title: v.Title, Description: v.Description, Tags: v.Tags,
		Visibility: v.Visibility, Status: string(v.Status), Progress: v.Progress, FailureCode: v.FailureCode,
		DurationS: v.Duration.Seconds(), Width: v.Width, Height: v.Height, Renditions: []RenditionView{},
		Counts: v.Counts, CreatedAt: v.CreatedAt}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if v.Status != vodfc.StatusProcessing && v.Status != vodfc.StatusReady {
		out.Progress = 0
	}
	if v.Status != vodfc.StatusFailed {
		out.FailureCode = ""
	}
	if !v.PublishedAt.IsZero() {
		t := v.PublishedAt
		out.PublishedAt = &t
	}
	if v.Status != vodfc.StatusReady {
		return out
	}
	for _, r := range v.Renditions {
		out.Renditions = append(out.Renditions, RenditionView{Height: r.Height, Width: r.Width, Bandwidth: r.Bandwidth, Codecs: r.Codecs, FrameRate: r.FrameRate})
	}
	out.PlayURL = "/api/v1/videos/" + v.ID + "/play"
	if v.StoryboardVTT != "" {
		out.StoryboardURL = s.cfg.PlaybackPath + "/" + v.ID + "/storyboard.vtt"
	}
	if v.CoverKey != "" {
		if p, err := s.media.PresignGet(v.CoverKey, s.cfg.MediaURLTTL); err == nil {
			out.CoverURL = p.URL
		} else {
			slog.Warn("presigning a cover failed", "video", v.ID, "err", err)
		}
	}
	return out
}

func principal(r *http.Request) vodfc.Principal {
	p, _ := httpapi.PrincipalFrom(r.Context())
	return p
}

type created struct {
	Video  View `json:"video"`
	Upload Plan `json:"upload"`
}

func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request) {
	var d Draft
	if err := httpapi.DecodeJSON(w, r, &d); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	v, plan, err := s.Create(r.Context(), principal(r), d)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/videos/"+v.ID)
	httpapi.WriteJSON(w, http.StatusCreated, created{Video: s.View(v), Upload: plan})
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) {
	v, err := s.Get(r.Context(), r.PathValue("id"), principal(r).UserID)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "private, no-cache")
	httpapi.WriteJSON(w, http.StatusOK, s.View(v))
}

func (s *Service) handleEdit(w http.ResponseWriter, r *http.Request) {
	var p Patch
	if err := httpapi.DecodeJSON(w, r, &p); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	v, err := s.Edit(r.Context(), r.PathValue("id"), principal(r), p)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, s.View(v))
}

func (s *Service) handleDelete(w http.ResponseWriter, r *http.Request) {
	if err := s.Delete(r.Context(), r.PathValue("id"), principal(r)); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) handleRestart(w http.ResponseWriter, r *http.Request) {
	v, plan, err := s.Restart(r.Context(), r.PathValue("id"), principal(r))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, created{Video: s.View(v), Upload: plan})
}

func (s *Service) handleUpload(w http.ResponseWriter, r *http.Request) {
	st, err := s.Upload(r.Context(), r.PathValue("id"), principal(r))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpapi.WriteJSON(w, http.StatusOK, st)
}

func (s *Service) handleAbort(w http.ResponseWriter, r *http.Request) {
	if err := s.Abort(r.Context(), r.PathValue("id"), principal(r)); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type partsRequest struct {
	Numbers []int `json:"numbers"`
}

type partsResponse struct {
	Parts []PartURL `json:"parts"`
}

func (s *Service) handleParts(w http.ResponseWriter, r *http.Request) {
	var req partsRequest
	if err := httpapi.DecodeJSON(w, r, &req); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	parts, err := s.PartURLs(r.Context(), r.PathValue("id"), principal(r), req.Numbers)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpapi.WriteJSON(w, http.StatusOK, partsResponse{Parts: parts})
}

type completeRequest struct {
	Parts []oss.Part `json:"parts"`
}

func (s *Service) handleComplete(w http.ResponseWriter, r *http.Request) {
	var req completeRequest
	if err := httpapi.DecodeJSON(w, r, &req); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	v, err := s.Complete(r.Context(), r.PathValue("id"), principal(r), req.Parts)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusAccepted, s.View(v))
}

func (s *Service) handleListMine(w http.ResponseWriter, r *http.Request) {
	s.list(w, r, func(after *Position, limit int) ([]*vodfc.Video, *Position, error) {
		return s.ListMine(r.Context(), principal(r), after, limit)
	})
}

func (s *Service) handleListUser(w http.ResponseWriter, r *http.Request) {
	s.list(w, r, func(after *Position, limit int) ([]*vodfc.Video, *Position, error) {
		return s.ListPublic(r.Context(), r.PathValue("id"), after, limit)
	})
}

func (s *Service) list(w http.ResponseWriter, r *http.Request, read func(*Position, int) ([]*vodfc.Video, *Position, error)) {
	page, err := httpapi.ParsePage(r, DefaultPageSize, MaxPageSize)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	var after *Position
	if page.Cursor != "" {
		after = &Position{}
		if err := httpapi.DecodeCursor(page.Cursor, after); err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		if !vodfc.ValidID(after.ID) || after.CreatedAt <= 0 {
			httpapi.WriteError(w, r, vodfc.Invalid("invalid_cursor", "the cursor is not one this list returned"))
			return
		}
	}
	items, next, err := read(after, page.Limit)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	out := httpapi.List[View]{Items: make([]View, 0, len(items))}
	for _, v := range items {
		out.Items = append(out.Items, s.View(v))
	}
	if next != nil {
		if out.NextCursor, err = httpapi.EncodeCursor(next); err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}
