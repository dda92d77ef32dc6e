package videos

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/tablestore"
)

// colClaimRequest records the platform request id of the invocation holding the processing
// claim. FC redelivers a failed event under the same request id, so a redelivery may take over
// the claim of its own dead predecessor at once instead of waiting for the claim to go stale.
const colClaimRequest = "claim_request"

// ErrClaimLost is returned by the writes of a processing attempt (Progress, Publish, Fail,
// Release) when the row no longer belongs to that attempt: another attempt took the claim over,
// or the owner deleted the video. The attempt must stop and leave no trace.
var ErrClaimLost = errors.New("videos: the processing claim was lost")

// Claim describes one processing attempt.
type Claim struct {
	Attempt string    // new attempt id; media go under media/{video}/{attempt}/
	Request string    // the platform's request id of the invocation
	At      time.Time // when the claim is made
	// Replaces is the attempt id being taken over ("" to claim a video awaiting its upload).
	Replaces string
}

// ClaimProcessing moves a video from awaiting_upload to processing under c.Attempt, or takes
// over the processing claim of attempt c.Replaces. The write is conditional, so of several
// invocations racing for one video exactly one wins; the others get ErrClaimLost.
func (s *Store) ClaimProcessing(ctx context.Context, id string, c Claim) error {
	cond := tablestore.IfExists().Where(tablestore.Eq(colStatus, string(vodfc.StatusAwaitingUpload)))
	if c.Replaces != "" {
		cond = tablestore.IfExists().Where(tablestore.Eq(colStatus, string(vodfc.StatusProcessing)), tablestore.Eq(colAttempt, c.Replaces))
	}
	_, err := s.db.Update(ctx, tablestore.Videos.Name, key(id), tablestore.Change{
		Set: tablestore.Cols{
			colStatus: string(vodfc.StatusProcessing), colAttempt: c.Attempt, colClaimedAt: c.At.UnixMilli(),
			colClaimRequest: c.Request, colProgress: int64(0), colUpdatedAt: c.At.UnixMilli(),
		},
		Delete: []string{colFailure},
	}, cond)
	return claimErr(err)
}

// attemptCond holds while attempt still owns the processing of the video.
func attemptCond(attempt string) tablestore.Cond {
	return tablestore.IfExists().Where(tablestore.Eq(colStatus, string(vodfc.StatusProcessing)), tablestore.Eq(colAttempt, attempt))
}

func claimErr(err error) error {
	if tablestore.IsConditionFailed(err) {
		return ErrClaimLost
	}
	return err
}

// SetProgress records how far attempt has come (0–100).
func (s *Store) SetProgress(ctx context.Context, id, attempt string, percent int, now time.Time) error {
	percent = min(max(percent, 0), 99) // 100 is written by Publish only
	_, err := s.db.Update(ctx, tablestore.Videos.Name, key(id), tablestore.Change{
		Set: tablestore.Cols{colProgress: int64(percent), colUpdatedAt: now.UnixMilli()},
	}, attemptCond(attempt))
	return claimErr(err)
}

// Published is what a successful processing attempt hands over.
type Published struct {
	Duration      time.Duration
	Width, Height int
	Renditions    []vodfc.Rendition
	MediaPrefix   string
	CoverKey      string
	StoryboardKey string
	StoryboardVTT string
}

// Publish flips the video to ready with its media, in one conditional write: the row points at
// the attempt's media only once all of them are stored, and only if attempt still holds the
// claim (an attempt that was taken over, or a video deleted meanwhile, gets ErrClaimLost).
func (s *Store) Publish(ctx context.Context, id, attempt string, p Published, now time.Time) error {
	if len(p.Renditions) == 0 || p.MediaPrefix == "" {
		return vodfc.Internal(errors.New("videos: publish without renditions"))
	}
	v := &vodfc.Video{Duration: p.Duration, Width: p.Width, Height: p.Height, Renditions: p.Renditions,
		MediaPrefix: p.MediaPrefix, CoverKey: p.CoverKey, StoryboardKey: p.StoryboardKey, StoryboardVTT: p.StoryboardVTT,
		PublishedAt: now}
	set := publishedCols(v)
	set[colStatus] = string(vodfc.StatusReady)
	set[colProgress] = int64(100)
	set[colUpdatedAt] = now.UnixMilli()
	_, err := s.db.Update(ctx, tablestore.Videos.Name, key(id), tablestore.Change{Set: set, Delete: []string{colFailure}}, attemptCond(attempt))
	return claimErr(err)
}

// Fail ends processing for good: the upload was refused for reason code (not_a_video,
// corrupt, size_mismatch, ...).
func (s *Store) Fail(ctx context.Context, id, attempt, code string, now time.Time) error {
	_, err := s.db.Update(ctx, tablestore.Videos.Name, key(id), tablestore.Change{
		Set: tablestore.Cols{colStatus: string(vodfc.StatusFailed), colFailure: code, colProgress: int64(0), colUpdatedAt: now.UnixMilli()},
	}, attemptCond(attempt))
	return claimErr(err)
}

// Release gives the claim back after a failure a retry may cure: the video waits for its
// upload again, so the platform's redelivery (or a duplicate event) can claim it at once.
func (s *Store) Release(ctx context.Context, id, attempt string, now time.Time) error {
	_, err := s.db.Update(ctx, tablestore.Videos.Name, key(id), tablestore.Change{
		Set:    tablestore.Cols{colStatus: string(vodfc.StatusAwaitingUpload), colProgress: int64(0), colUpdatedAt: now.UnixMilli()},
		Delete: []string{colAttempt, colClaimedAt, colClaimRequest},
	}, attemptCond(attempt))
	return claimErr(err)
}

// ClaimRequest returns the request id recorded with the current processing claim of a video.
func (s *Store) ClaimRequest(ctx context.Context, id string) (string, error) {
	row, err := s.db.Get(ctx, tablestore.Videos.Name, key(id), colClaimRequest)
	if err != nil || row == nil {
		return "", err
	}
	return row.Str(colClaimRequest), nil
}

// Session is a multipart upload session kept on the video row, so that any device of the
// owner can resume it.
type Session struct {
	UploadID  string
	PartSize  int64
	PartCount int
}

// SetSession records (or, with a zero Session, clears) the multipart upload session of a video
// that still awaits its upload. expect is the session the caller saw ("" for none): a
// concurrent change by another device makes the write fail with a conflict rather than lose
// a session.
func (s *Store) SetSession(ctx context.Context, id, expect string, sess Session, now time.Time) error {
	cond := tablestore.IfExists().Where(tablestore.Eq(colStatus, string(vodfc.StatusAwaitingUpload)))
	if expect != "" {
		cond = cond.Where(tablestore.Eq(colUploadID, expect))
	} else {
		cond = cond.Where(tablestore.Eq(colUploadID, "").OrMissing())
	}
	ch := tablestore.Change{Set: tablestore.Cols{colUpdatedAt: now.UnixMilli()}}
	if sess.UploadID == "" {
		ch.Delete = []string{colUploadID, colPartSize, colPartCount}
	} else {
		ch.Set[colUploadID] = sess.UploadID
		ch.Set[colPartSize] = sess.PartSize
		ch.Set[colPartCount] = int64(sess.PartCount)
	}
	_, err := s.db.Update(ctx, tablestore.Videos.Name, key(id), ch, cond)
	if tablestore.IsConditionFailed(err) {
		return vodfc.Conflict("upload_changed", "the upload was changed meanwhile (by another device?); read it again")
	}
	return err
}

// Edit is a change of a video's metadata; nil fields stay as they are.
type Edit struct {
	Title       *string
	Description *string
	Tags        *[]string
	Visibility  *vodfc.Visibility
}

// Update applies e to a video of ownerID that is not deleted.
func (s *Store) Update(ctx context.Context, id, ownerID string, e Edit, now time.Time) error {
	set := tablestore.Cols{colUpdatedAt: now.UnixMilli()}
	if e.Title != nil {
		set[colTitle] = *e.Title
	}
	if e.Description != nil {
		set[colDescription] = *e.Description
	}
	if e.Tags != nil {
		b, _ := json.Marshal(*e.Tags)
		set[colTags] = string(b)
	}
	if e.Visibility != nil {
		set[colVisibility] = string(*e.Visibility)
	}
	_, err := s.db.Update(ctx, tablestore.Videos.Name, key(id), tablestore.Change{Set: set},
		tablestore.IfExists().Where(tablestore.Eq(colOwner, ownerID), tablestore.Ne(colStatus, string(vodfc.StatusDeleted))))
	if tablestore.IsConditionFailed(err) {
		return ErrNotFound()
	}
	return err
}

// SoftDelete marks a video of ownerID deleted and takes it out of the owner's list. Its media
// stay until the cleanup timer removes them after a grace period; every reader treats the
// video as gone at once, and a processing attempt loses its claim.
func (s *Store) SoftDelete(ctx context.Context, v *vodfc.Video, now time.Time) error {
	_, err := s.db.Update(ctx, tablestore.Videos.Name, key(v.ID), tablestore.Change{
		Set: tablestore.Cols{colStatus: string(vodfc.StatusDeleted), colDeletedAt: now.UnixMilli(), colUpdatedAt: now.UnixMilli()},
	}, tablestore.IfExists().Where(tablestore.Eq(colOwner, v.OwnerID), tablestore.Ne(colStatus, string(vodfc.StatusDeleted))))
	if tablestore.IsConditionFailed(err) {
		return ErrNotFound()
	}
	if err != nil {
		return err
	}
	return s.db.Delete(ctx, tablestore.UserVideos.Name, listKey(v.OwnerID, v.CreatedAt, v.ID), tablestore.Always)
}

func listKey(owner string, created time.Time, id string) tablestore.Key {
	return tablestore.K("owner_id", owner, "created_at", created.UnixMilli(), "video_id", id)
}
