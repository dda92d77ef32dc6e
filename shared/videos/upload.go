package videos

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/oss"
)

// UploadState is where a multipart upload stands, read from OSS (ListParts) so that any
// device can resume it: upload the Missing parts, then complete with every part's ETag.
type UploadState struct {
	Plan
	Size    int64      `json:"size"`
	Parts   []oss.Part `json:"parts"`
	Missing []int      `json:"missing"`
}

// PartURL is a presigned request that uploads one part.
type PartURL struct {
	Number    int       `json:"number"`
	Method    string    `json:"method"`
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

func errNotMultipart() error {
	return vodfc.Conflict("not_multipart", "this video uploads with one PUT; ask for a new upload plan to get a fresh URL")
}

// Restart gives an owner a fresh upload plan for a video that still awaits its file: a new PUT
// URL when the old one expired, or a new multipart upload (the old one is aborted) to start
// over.
func (s *Service) Restart(ctx context.Context, id string, caller vodfc.Principal) (*vodfc.Video, Plan, error) {
	v, err := s.awaitingUpload(ctx, id, caller)
	if err != nil {
		return nil, Plan{}, err
	}
	if v.DeclaredSize <= s.cfg.MultipartThreshold && v.UploadID == "" {
		p, err := s.putPlan(v)
		return v, p, err
	}
	old := *v
	plan, err := s.startMultipart(ctx, v)
	if err != nil {
		return nil, Plan{}, err
	}
	if err := s.store.SetSession(ctx, v.ID, old.UploadID, Session{UploadID: v.UploadID, PartSize: v.PartSize, PartCount: v.PartCount}, s.now().UTC()); err != nil {
		s.abortQuietly(ctx, v)
		return nil, Plan{}, err
	}
	if old.UploadID != "" {
		s.abortQuietly(ctx, &old)
	}
	return v, plan, nil
}

// Upload reports a multipart upload's progress from OSS.
func (s *Service) Upload(ctx context.Context, id string, caller vodfc.Principal) (*UploadState, error) {
	v, err := s.awaitingUpload(ctx, id, caller)
	if err != nil {
		return nil, err
	}
	if v.UploadID == "" {
		return nil, errNotMultipart()
	}
	parts, err := s.media.ListParts(ctx, vodfc.SourceKey(v.ID), v.UploadID)
	if oss.IsNotFound(err) {
		return nil, s.finishedUpload(ctx, v)
	}
	if err != nil {
		return nil, err
	}
	st := &UploadState{Plan: multipartPlan(v), Size: v.DeclaredSize, Parts: parts, Missing: []int{}}
	if st.Parts == nil {
		st.Parts = []oss.Part{}
	}
	for n := 1; n <= v.PartCount; n++ {
		if !slices.ContainsFunc(parts, func(p oss.Part) bool { return p.Number == n }) {
			st.Missing = append(st.Missing, n)
		}
	}
	return st, nil
}

// finishedUpload explains an upload id OSS no longer knows: completed (the source exists and
// processing is about to start) or aborted/expired (ask for a new plan).
func (s *Service) finishedUpload(ctx context.Context, v *vodfc.Video) error {
	if ok, err := s.media.Exists(ctx, vodfc.SourceKey(v.ID)); err != nil {
		return err
	} else if ok {
		return vodfc.Conflict("upload_complete", "the upload is complete; processing starts shortly")
	}
	return vodfc.Conflict("upload_expired", "the multipart upload no longer exists; ask for a new upload plan")
}

// PartURLs presigns uploads of the given part numbers.
func (s *Service) PartURLs(ctx context.Context, id string, caller vodfc.Principal, numbers []int) ([]PartURL, error) {
	if len(numbers) == 0 || len(numbers) > s.cfg.MaxPartURLs {
		return nil, vodfc.InvalidField("numbers", fmt.Sprintf("ask for 1 to %d parts at a time", s.cfg.MaxPartURLs))
	}
	v, err := s.awaitingUpload(ctx, id, caller)
	if err != nil {
		return nil, err
	}
	if v.UploadID == "" {
		return nil, errNotMultipart()
	}
	out := make([]PartURL, 0, len(numbers))
	seen := map[int]bool{}
	for _, n := range numbers {
		if n < 1 || n > v.PartCount {
			return nil, vodfc.InvalidField("numbers", fmt.Sprintf("part numbers run from 1 to %d", v.PartCount))
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		p, err := s.media.PresignPart(vodfc.SourceKey(v.ID), v.UploadID, n, s.cfg.UploadURLTTL)
		if err != nil {
			return nil, err
		}
		out = append(out, PartURL{Number: n, Method: p.Method, URL: p.URL, ExpiresAt: p.Expires.UTC()})
	}
	return out, nil
}

// Complete assembles an uploaded file from its parts. Every part must be there, with the
// ETags the client got from OSS and the sizes of the plan, adding up to the declared size: a
// mistake is reported per part before anything is assembled, so the client can re-upload the
// parts at fault. Completing twice (a lost response) answers as the first time did.
func (s *Service) Complete(ctx context.Context, id string, caller vodfc.Principal, parts []oss.Part) (*vodfc.Video, error) {
	v, err := s.owned(ctx, id, caller)
	if err != nil {
		return nil, err
	}
	if v.Status != vodfc.StatusAwaitingUpload {
		if v.Status == vodfc.StatusFailed {
			return nil, vodfc.Conflict("upload_closed", "the video failed processing; create a new one")
		}
		return v, nil // already completed and claimed by processing
	}
	if v.UploadID == "" {
		return nil, errNotMultipart()
	}
	key := vodfc.SourceKey(v.ID)
	stored, err := s.media.ListParts(ctx, key, v.UploadID)
	if oss.IsNotFound(err) {
		if err := s.finishedUpload(ctx, v); vodfc.IsCode(err, "upload_complete") {
			return v, nil
		} else {
			return nil, err
		}
	}
	if err != nil {
		return nil, err
	}
	if err := checkParts(v, parts, stored); err != nil {
		return nil, err
	}
	if _, err := s.media.CompleteMultipart(ctx, key, v.UploadID, stored); err != nil {
		if oss.IsNotFound(err) {
			return nil, s.finishedUpload(ctx, v)
		}
		return nil, err
	}
	return v, nil
}

func checkParts(v *vodfc.Video, sent, stored []oss.Part) error {
	byNum := map[int]oss.Part{}
	for _, p := range stored {
		byNum[p.Number] = p
	}
	if len(sent) != v.PartCount {
		return vodfc.InvalidField("parts", fmt.Sprintf("send all %d parts, each with its ETag", v.PartCount))
	}
	var total int64
	for i, p := range sent {
		if p.Number != i+1 {
			return vodfc.InvalidField("parts", "list the parts in order, numbered from 1")
		}
		have, ok := byNum[p.Number]
		if !ok {
			return &vodfc.Error{Kind: vodfc.KindInvalid, Code: "part_missing",
				Message: fmt.Sprintf("part %d has not been uploaded", p.Number), Fields: map[string]string{"parts": fmt.Sprintf("part %d is missing", p.Number)}}
		}
		if !strings.EqualFold(strings.Trim(p.ETag, `"`), have.ETag) {
			return &vodfc.Error{Kind: vodfc.KindInvalid, Code: "part_mismatch",
				Message: fmt.Sprintf("part %d in storage is not the one sent (ETag differs); upload it again", p.Number),
				Fields:  map[string]string{"parts": fmt.Sprintf("part %d: ETag differs", p.Number)}}
		}
		want := v.PartSize
		if p.Number == v.PartCount {
			want = v.DeclaredSize - int64(v.PartCount-1)*v.PartSize
		}
		if have.Size != want {
			return &vodfc.Error{Kind: vodfc.KindInvalid, Code: "part_mismatch",
				Message: fmt.Sprintf("part %d has %d bytes; the plan says %d", p.Number, have.Size, want),
				Fields:  map[string]string{"parts": fmt.Sprintf("part %d: %d bytes, want %d", p.Number, have.Size, want)}}
		}
		total += have.Size
	}
	if total != v.DeclaredSize {
		return vodfc.Invalid("size_mismatch", fmt.Sprintf("the parts hold %d bytes; the video declared %d", total, v.DeclaredSize))
	}
	return nil
}

// Abort cancels a multipart upload; the video keeps waiting for a file (ask for a new plan).
func (s *Service) Abort(ctx context.Context, id string, caller vodfc.Principal) error {
	v, err := s.awaitingUpload(ctx, id, caller)
	if err != nil {
		return err
	}
	if v.UploadID == "" {
		return errNotMultipart()
	}
	if err := s.media.AbortMultipart(ctx, vodfc.SourceKey(v.ID), v.UploadID); err != nil {
		return err
	}
	return s.store.SetSession(ctx, v.ID, v.UploadID, Session{}, s.now().UTC())
}
