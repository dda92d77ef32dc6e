package videos

import (
	"context"
	"fmt"
	"log/slog"
	"mime"
	"path"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/runtime"
)

// Service is what owners and viewers do with videos: create one with an upload plan, upload
// it straight to OSS (one presigned PUT, or a multipart upload that resumes from any device),
// read, edit, delete and list videos. Processing is the transcode package's.
type Service struct {
	store *Store
	media *oss.Store
	cfg   Config
	now   func() time.Time
	// changed hears of every edit and delete, so caches of who may see a video (engagement's
	// gate) drop it at once instead of serving a now-private video for their TTL.
	changed func(ctx context.Context, id string)
}

// OnChange sets f to be called after a video's metadata changed or it was deleted.
func (s *Service) OnChange(f func(ctx context.Context, id string)) { s.changed = f }

func (s *Service) notify(ctx context.Context, id string) {
	if s.changed != nil {
		s.changed(ctx, id)
	}
}

// NewService returns the feature over its record store and the media bucket.
func NewService(store *Store, media *oss.Store, cfg Config) *Service {
	return &Service{store: store, media: media, cfg: cfg, now: runtime.Now}
}

// Limits on what owners write.
const (
	MaxTitleRunes       = 100
	MaxDescriptionRunes = 5000
	MaxTags             = 12
	MaxTagRunes         = 24
	MaxFilenameBytes    = 255
)

// Draft is what an owner declares when creating a video.
type Draft struct {
	Title       string           `json:"title"`
	Description string           `json:"description"`
	Tags        []string         `json:"tags"`
	Visibility  vodfc.Visibility `json:"visibility"`
	Filename    string           `json:"filename"`
	Size        int64            `json:"size"`
	ContentType string           `json:"content_type"`
}

// Plan tells the client how to upload the file: one PUT of the whole file to URL with Headers,
// or a multipart upload of PartCount parts of PartSize bytes (the last may be shorter) whose
// URLs it asks for with PartURLs.
type Plan struct {
	Method    string            `json:"method"` // "PUT" or "multipart"
	URL       string            `json:"url,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	ExpiresAt *time.Time        `json:"expires_at,omitempty"`
	UploadID  string            `json:"upload_id,omitempty"`
	PartSize  int64             `json:"part_size,omitempty"`
	PartCount int               `json:"part_count,omitempty"`
}

// Create validates d, plans the upload and stores the video awaiting it.
func (s *Service) Create(ctx context.Context, owner vodfc.Principal, d Draft) (*vodfc.Video, Plan, error) {
	v, err := s.validateDraft(d)
	if err != nil {
		return nil, Plan{}, err
	}
	now := s.now().UTC()
	v.ID, v.OwnerID, v.Status, v.CreatedAt, v.UpdatedAt = vodfc.NewID(), owner.UserID, vodfc.StatusAwaitingUpload, now, now
	var plan Plan
	if v.DeclaredSize > s.cfg.MultipartThreshold {
		if plan, err = s.startMultipart(ctx, v); err != nil {
			return nil, Plan{}, err
		}
	} else if plan, err = s.putPlan(v); err != nil {
		return nil, Plan{}, err
	}
	if err := s.store.Insert(ctx, v); err != nil {
		if v.UploadID != "" {
			s.abortQuietly(ctx, v)
		}
		return nil, Plan{}, err
	}
	return v, plan, nil
}

func (s *Service) putPlan(v *vodfc.Video) (Plan, error) {
	p, err := s.media.PresignPut(vodfc.SourceKey(v.ID), v.ContentType, s.cfg.UploadURLTTL)
	if err != nil {
		return Plan{}, err
	}
	exp := p.Expires.UTC()
	return Plan{Method: "PUT", URL: p.URL, Headers: p.Headers, ExpiresAt: &exp}, nil
}

// startMultipart opens a multipart upload for v and records its session on v.
func (s *Service) startMultipart(ctx context.Context, v *vodfc.Video) (Plan, error) {
	id, err := s.media.StartMultipart(ctx, vodfc.SourceKey(v.ID), v.ContentType)
	if err != nil {
		return Plan{}, err
	}
	v.UploadID = id
	v.PartSize, v.PartCount = s.cfg.partPlan(v.DeclaredSize)
	return multipartPlan(v), nil
}

func multipartPlan(v *vodfc.Video) Plan {
	return Plan{Method: "multipart", UploadID: v.UploadID, PartSize: v.PartSize, PartCount: v.PartCount}
}

func (s *Service) abortQuietly(ctx context.Context, v *vodfc.Video) {
	if err := s.media.AbortMultipart(ctx, vodfc.SourceKey(v.ID), v.UploadID); err != nil {
		slog.WarnContext(ctx, "aborting a multipart upload failed; cleanup will remove it", "video", v.ID, "upload_id", v.UploadID, "err", err)
	}
}

func (s *Service) validateDraft(d Draft) (*vodfc.Video, error) {
	title, err := cleanTitle(d.Title)
	if err != nil {
		return nil, err
	}
	desc, err := cleanDescription(d.Description)
	if err != nil {
		return nil, err
	}
	tags, err := cleanTags(d.Tags)
	if err != nil {
		return nil, err
	}
	vis := d.Visibility
	if vis == "" {
		vis = vodfc.Public
	}
	if !vis.Valid() {
		return nil, vodfc.InvalidField("visibility", "must be public, unlisted or private")
	}
	name := path.Base(strings.ReplaceAll(strings.TrimSpace(d.Filename), `\`, "/"))
	if name == "." || name == "/" || name == "" || len(name) > MaxFilenameBytes || !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return nil, vodfc.InvalidField("filename", fmt.Sprintf("must be a file name of 1 to %d bytes", MaxFilenameBytes))
	}
	if d.Size <= 0 {
		return nil, vodfc.InvalidField("size", "must be the file's size in bytes")
	}
	if d.Size > s.cfg.MaxUploadSize {
		return nil, &vodfc.Error{Kind: vodfc.KindInvalid, Code: "file_too_large",
			Message: fmt.Sprintf("the file has %d bytes; the largest upload is %d bytes", d.Size, s.cfg.MaxUploadSize),
			Fields:  map[string]string{"size": fmt.Sprintf("at most %d bytes", s.cfg.MaxUploadSize)}}
	}
	ct, err := videoContentType(d.ContentType)
	if err != nil {
		return nil, err
	}
	return &vodfc.Video{Title: title, Description: desc, Tags: tags, Visibility: vis, Filename: name, DeclaredSize: d.Size, ContentType: ct}, nil
}

// videoContentType accepts video/* media types only, normalised (lower case, no parameters):
// the type is part of the upload URL's signature, so the client sends exactly this.
func videoContentType(s string) (string, error) {
	mt, _, err := mime.ParseMediaType(s)
	if err != nil || !strings.HasPrefix(mt, "video/") || len(mt) == len("video/") || len(mt) > 100 {
		return "", &vodfc.Error{Kind: vodfc.KindInvalid, Code: "not_a_video_type",
			Message: "content_type must be a video media type such as video/mp4",
			Fields:  map[string]string{"content_type": "must be video/*"}}
	}
	return mt, nil
}

func cleanTitle(s string) (string, error) {
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n == 0 || n > MaxTitleRunes || !printable(s, false) {
		return "", vodfc.InvalidField("title", fmt.Sprintf("must be 1 to %d characters on one line", MaxTitleRunes))
	}
	return s, nil
}

func cleanDescription(s string) (string, error) {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > MaxDescriptionRunes || !printable(s, true) {
		return "", vodfc.InvalidField("description", fmt.Sprintf("must be at most %d characters", MaxDescriptionRunes))
	}
	return s, nil
}

// cleanTags trims tags, drops empty ones and duplicates (compared without case) and keeps
// their order.
func cleanTags(in []string) ([]string, error) {
	out := []string{}
	for _, t := range in {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if utf8.RuneCountInString(t) > MaxTagRunes || !printable(t, false) || strings.ContainsRune(t, ',') {
			return nil, vodfc.InvalidField("tags", fmt.Sprintf("each tag is 1 to %d characters, without commas", MaxTagRunes))
		}
		if !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, t) }) {
			out = append(out, t)
		}
	}
	if len(out) > MaxTags {
		return nil, vodfc.InvalidField("tags", fmt.Sprintf("at most %d tags", MaxTags))
	}
	return out, nil
}

// printable rejects invalid UTF-8 and control characters (newlines and tabs only where
// multiline text is allowed).
func printable(s string, multiline bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t' || r == '\r')) {
			return false
		}
	}
	return true
}

// Get reads a video as viewer (userID "" for anonymous) may see it: videos that are not ready
// or not public exist only for their owner; everyone else gets video_not_found.
func (s *Service) Get(ctx context.Context, id, viewer string) (*vodfc.Video, error) {
	v, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !v.VisibleTo(viewer) {
		return nil, ErrNotFound()
	}
	return v, nil
}

// owned reads a video its owner is about to change. Others get video_not_found for videos they
// cannot see and not_owner for the ones they can.
func (s *Service) owned(ctx context.Context, id string, caller vodfc.Principal) (*vodfc.Video, error) {
	v, err := s.Get(ctx, id, caller.UserID)
	if err != nil {
		return nil, err
	}
	if v.OwnerID != caller.UserID {
		return nil, vodfc.Forbidden("not_owner", "only the owner may change this video")
	}
	return v, nil
}

// awaitingUpload reads an owner's video whose upload is still open.
func (s *Service) awaitingUpload(ctx context.Context, id string, caller vodfc.Principal) (*vodfc.Video, error) {
	v, err := s.owned(ctx, id, caller)
	if err != nil {
		return nil, err
	}
	if v.Status != vodfc.StatusAwaitingUpload {
		return nil, vodfc.Conflict("upload_closed", fmt.Sprintf("the video is %s; its upload is closed", v.Status))
	}
	return v, nil
}

// Patch is a change of metadata; nil fields stay.
type Patch struct {
	Title       *string           `json:"title"`
	Description *string           `json:"description"`
	Tags        *[]string         `json:"tags"`
	Visibility  *vodfc.Visibility `json:"visibility"`
}

// Edit changes an owner's video.
func (s *Service) Edit(ctx context.Context, id string, caller vodfc.Principal, p Patch) (*vodfc.Video, error) {
	var e Edit
	if p.Title != nil {
		t, err := cleanTitle(*p.Title)
		if err != nil {
			return nil, err
		}
		e.Title = &t
	}
	if p.Description != nil {
		d, err := cleanDescription(*p.Description)
		if err != nil {
			return nil, err
		}
		e.Description = &d
	}
	if p.Tags != nil {
		t, err := cleanTags(*p.Tags)
		if err != nil {
			return nil, err
		}
		e.Tags = &t
	}
	if p.Visibility != nil {
		if !p.Visibility.Valid() {
			return nil, vodfc.InvalidField("visibility", "must be public, unlisted or private")
		}
		e.Visibility = p.Visibility
	}
	if e == (Edit{}) {
		return nil, vodfc.Invalid("nothing_to_change", "send at least one of title, description, tags, visibility")
	}
	if _, err := s.owned(ctx, id, caller); err != nil {
		return nil, err
	}
	if err := s.store.Update(ctx, id, caller.UserID, e, s.now().UTC()); err != nil {
		return nil, err
	}
	s.notify(ctx, id)
	return s.store.Get(ctx, id)
}

// Delete soft-deletes an owner's video; an open multipart upload is aborted.
func (s *Service) Delete(ctx context.Context, id string, caller vodfc.Principal) error {
	v, err := s.owned(ctx, id, caller)
	if err != nil {
		return err
	}
	if err := s.store.SoftDelete(ctx, v, s.now().UTC()); err != nil {
		return err
	}
	s.notify(ctx, v.ID)
	if v.Status == vodfc.StatusAwaitingUpload && v.UploadID != "" {
		s.abortQuietly(ctx, v)
	}
	return nil
}

// ListMine lists the caller's own videos in every state but deleted.
func (s *Service) ListMine(ctx context.Context, caller vodfc.Principal, after *Position, limit int) ([]*vodfc.Video, *Position, error) {
	return s.store.ListOwner(ctx, caller.UserID, after, limit, nil)
}

// ListPublic lists what anyone sees on a user's page: ready, public videos.
func (s *Service) ListPublic(ctx context.Context, ownerID string, after *Position, limit int) ([]*vodfc.Video, *Position, error) {
	if !vodfc.ValidID(ownerID) {
		return nil, nil, vodfc.NotFound("user_not_found", "no such user")
	}
	return s.store.ListOwner(ctx, ownerID, after, limit, (*vodfc.Video).Listed)
}
