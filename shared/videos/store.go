// Package videos owns the video records: creating a video and its upload session, reading and
// listing videos, and the state changes of processing (claim, progress, publish, fail). The
// transcoding itself lives in the ffmpeg package and the transcode function; counters are
// changed by the engagement feature through IncrementCounts.
package videos

import (
	"context"
	"encoding/json"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/tablestore"
)

// Store reads and writes video rows.
type Store struct {
	db *tablestore.Client
}

// NewStore returns a store over db.
func NewStore(db *tablestore.Client) *Store { return &Store{db: db} }

// Column names of the videos table (docs/architecture.md "Video row").
const (
	colOwner        = "owner_id"
	colTitle        = "title"
	colDescription  = "description"
	colTags         = "tags"
	colVisibility   = "visibility"
	colStatus       = "status"
	colProgress     = "progress"
	colFailure      = "failure_code"
	colFilename     = "filename"
	colContentType  = "content_type"
	colDeclaredSize = "declared_size"
	colUploadID     = "upload_id"
	colPartSize     = "part_size"
	colPartCount    = "part_count"
	colAttempt      = "attempt_id"
	colClaimedAt    = "claimed_at"
	colDurationMS   = "duration_ms"
	colWidth        = "width"
	colHeight       = "height"
	colRenditions   = "renditions"
	colMediaPrefix  = "media_prefix"
	colCover        = "cover_key"
	colStoryboard   = "storyboard_key"
	colStoryVTT     = "storyboard_vtt_key"
	colCreatedAt    = "created_at"
	colUpdatedAt    = "updated_at"
	colPublishedAt  = "published_at"
	colDeletedAt    = "deleted_at"

	// Counters, changed only by atomic increments.
	ColViews      = "views"
	ColLikes      = "likes"
	ColFavourites = "favourites"
	ColComments   = "comments"
	ColDanmaku    = "danmaku"
)

func key(id string) tablestore.Key { return tablestore.K("video_id", id) }

// ErrNotFound is the domain error for a missing (or invisible) video.
func ErrNotFound() error { return vodfc.NotFound("video_not_found", "no such video") }

// Get reads one video; a missing video is ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*vodfc.Video, error) {
	if !vodfc.ValidID(id) {
		return nil, ErrNotFound()
	}
	row, err := s.db.Get(ctx, tablestore.Videos.Name, key(id))
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, ErrNotFound()
	}
	return fromRow(row), nil
}

// BatchGet reads many videos at once; missing ids are absent from the map.
func (s *Store) BatchGet(ctx context.Context, ids []string) (map[string]*vodfc.Video, error) {
	keys := make([]tablestore.Key, 0, len(ids))
	for _, id := range ids {
		if vodfc.ValidID(id) {
			keys = append(keys, key(id))
		}
	}
	rows, err := s.db.BatchGet(ctx, tablestore.Videos.Name, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*vodfc.Video, len(rows))
	for _, r := range rows {
		if r != nil {
			v := fromRow(r)
			out[v.ID] = v
		}
	}
	return out, nil
}

// Insert writes a new video row and its entry in the owner's list. The row is written first
// and must not exist; a crash before the list entry leaves a video its owner can still reach by
// id, never a list entry without a video.
func (s *Store) Insert(ctx context.Context, v *vodfc.Video) error {
	if err := s.db.Put(ctx, tablestore.Videos.Name, key(v.ID), toCols(v), tablestore.IfNotExists()); err != nil {
		return err
	}
	return s.db.Put(ctx, tablestore.UserVideos.Name, listKey(v.OwnerID, v.CreatedAt, v.ID), tablestore.Cols{}, tablestore.Always)
}

// ListByOwner returns the ids of an owner's videos, newest first, one page at a time. after is
// the cursor returned by the previous page ("" for the first).
func (s *Store) ListByOwner(ctx context.Context, ownerID string, after tablestore.Key, limit int) (ids []string, next tablestore.Key, err error) {
	start := after
	if start == nil {
		start = tablestore.K("owner_id", ownerID, "created_at", tablestore.Max, "video_id", tablestore.Max)
	}
	rows, next, err := s.db.GetRange(ctx, tablestore.UserVideos.Name, tablestore.Range{
		Start: start, End: tablestore.K("owner_id", ownerID, "created_at", tablestore.Min, "video_id", tablestore.Min),
		Backward: true, Limit: limit,
	})
	if err != nil {
		return nil, nil, err
	}
	for _, r := range rows {
		ids = append(ids, r.Key.Str("video_id"))
	}
	return ids, next, nil
}

// IncrementCounts atomically adds deltas to a video's counters (column names Col*) and returns
// the new values. The video must exist.
func (s *Store) IncrementCounts(ctx context.Context, id string, deltas map[string]int64) (map[string]int64, error) {
	return s.db.Update(ctx, tablestore.Videos.Name, key(id), tablestore.Change{Incr: deltas}, tablestore.IfExists())
}

func toCols(v *vodfc.Video) tablestore.Cols {
	tags, _ := json.Marshal(v.Tags)
	c := tablestore.Cols{
		colOwner: v.OwnerID, colTitle: v.Title, colDescription: v.Description, colTags: string(tags),
		colVisibility: string(v.Visibility), colStatus: string(v.Status), colProgress: int64(v.Progress),
		colFilename: v.Filename, colContentType: v.ContentType, colDeclaredSize: v.DeclaredSize,
		colCreatedAt: v.CreatedAt.UnixMilli(), colUpdatedAt: v.UpdatedAt.UnixMilli(),
		ColViews: v.Counts.Views, ColLikes: v.Counts.Likes, ColFavourites: v.Counts.Favourites,
		ColComments: v.Counts.Comments, ColDanmaku: v.Counts.Danmaku,
	}
	if v.UploadID != "" {
		c[colUploadID] = v.UploadID
		c[colPartSize] = v.PartSize
		c[colPartCount] = int64(v.PartCount)
	}
	for k, val := range publishedCols(v) {
		c[k] = val
	}
	if v.FailureCode != "" {
		c[colFailure] = v.FailureCode
	}
	if v.AttemptID != "" {
		c[colAttempt] = v.AttemptID
		c[colClaimedAt] = v.ClaimedAt.UnixMilli()
	}
	if !v.DeletedAt.IsZero() {
		c[colDeletedAt] = v.DeletedAt.UnixMilli()
	}
	return c
}

// publishedCols are the columns a publish writes.
func publishedCols(v *vodfc.Video) tablestore.Cols {
	c := tablestore.Cols{}
	if len(v.Renditions) > 0 {
		r, _ := json.Marshal(v.Renditions)
		c[colRenditions] = string(r)
		c[colDurationMS] = v.Duration.Milliseconds()
		c[colWidth] = int64(v.Width)
		c[colHeight] = int64(v.Height)
		c[colMediaPrefix] = v.MediaPrefix
		c[colCover] = v.CoverKey
		c[colStoryboard] = v.StoryboardKey
		c[colStoryVTT] = v.StoryboardVTT
	}
	if !v.PublishedAt.IsZero() {
		c[colPublishedAt] = v.PublishedAt.UnixMilli()
	}
	return c
}

func fromRow(r *tablestore.Row) *vodfc.Video {
	v := &vodfc.Video{
		ID: r.Key.Str("video_id"), OwnerID: r.Str(colOwner), Title: r.Str(colTitle), Description: r.Str(colDescription),
		Visibility: vodfc.Visibility(r.Str(colVisibility)), Status: vodfc.VideoStatus(r.Str(colStatus)),
		Progress: int(r.Int(colProgress)), FailureCode: r.Str(colFailure),
		Filename: r.Str(colFilename), ContentType: r.Str(colContentType), DeclaredSize: r.Int(colDeclaredSize),
		UploadID: r.Str(colUploadID), PartSize: r.Int(colPartSize), PartCount: int(r.Int(colPartCount)),
		AttemptID: r.Str(colAttempt), ClaimedAt: ms(r.Int(colClaimedAt)),
		Duration: time.Duration(r.Int(colDurationMS)) * time.Millisecond,
		Width:    int(r.Int(colWidth)), Height: int(r.Int(colHeight)),
		MediaPrefix: r.Str(colMediaPrefix), CoverKey: r.Str(colCover), StoryboardKey: r.Str(colStoryboard),
		StoryboardVTT: r.Str(colStoryVTT),
		Counts: vodfc.Counts{Views: r.Int(ColViews), Likes: r.Int(ColLikes), Favourites: r.Int(ColFavourites),
			Comments: r.Int(ColComments), Danmaku: r.Int(ColDanmaku)},
		CreatedAt: ms(r.Int(colCreatedAt)), UpdatedAt: ms(r.Int(colUpdatedAt)),
		PublishedAt: ms(r.Int(colPublishedAt)), DeletedAt: ms(r.Int(colDeletedAt)),
	}
	_ = json.Unmarshal([]byte(r.Str(colTags)), &v.Tags)
	_ = json.Unmarshal([]byte(r.Str(colRenditions)), &v.Renditions)
	return v
}

func ms(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}
