package videos

import (
	"context"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/tablestore"
)

// Scan reads every video row in id order, a page at a time, for the timers that walk the whole
// library (tiering, cleanup). from is where the page starts ("" for the beginning) and next
// where the following one does ("" once the table is done). where filters rows on the service
// side (columns of docs/architecture.md "Video row").
func (s *Store) Scan(ctx context.Context, from string, limit int, where ...tablestore.Pred) (out []*vodfc.Video, next string, err error) {
	start := tablestore.K("video_id", tablestore.Min)
	if from != "" {
		start = tablestore.K("video_id", from)
	}
	rows, nextKey, err := s.db.GetRange(ctx, tablestore.Videos.Name, tablestore.Range{
		Start: start, End: tablestore.K("video_id", tablestore.Max), Limit: limit, Where: where,
	})
	if err != nil {
		return nil, "", err
	}
	for _, r := range rows {
		out = append(out, fromRow(r))
	}
	if nextKey != nil {
		next = nextKey.Str("video_id")
	}
	return out, next, nil
}

// FailureUploadExpired is the failure_code of a video whose file never arrived.
const FailureUploadExpired = "upload_expired"

// ExpireUpload ends a video that has been waiting for its file since before cutoff (created,
// or given a new upload plan, no later): it becomes failed with FailureUploadExpired, so a
// late upload can no longer be claimed by transcode. The write is conditional; expired is
// false when the video is no longer waiting or was touched since cutoff.
func (s *Store) ExpireUpload(ctx context.Context, id string, cutoff, now time.Time) (expired bool, err error) {
	_, err = s.db.Update(ctx, tablestore.Videos.Name, key(id), tablestore.Change{
		Set: tablestore.Cols{colStatus: string(vodfc.StatusFailed), colFailure: FailureUploadExpired, colUpdatedAt: now.UnixMilli()},
	}, tablestore.IfExists().Where(tablestore.Eq(colStatus, string(vodfc.StatusAwaitingUpload)), tablestore.Lt(colUpdatedAt, cutoff.UnixMilli())))
	if tablestore.IsConditionFailed(err) {
		return false, nil
	}
	return err == nil, err
}

// ColStatus and ColUpdatedAt name the columns the sweeps filter on.
const (
	ColStatus    = colStatus
	ColUpdatedAt = colUpdatedAt
)
