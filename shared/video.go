package vodfc

import (
	"path"
	"time"
)

// VideoStatus is where a video is in its life.
type VideoStatus string

const (
	StatusAwaitingUpload VideoStatus = "awaiting_upload"
	StatusProcessing     VideoStatus = "processing"
	StatusReady          VideoStatus = "ready"
	StatusFailed         VideoStatus = "failed"
	StatusDeleted        VideoStatus = "deleted"
)

// Visibility says who may watch a ready video.
type Visibility string

const (
	Public   Visibility = "public"   // listed and watchable by anyone
	Unlisted Visibility = "unlisted" // watchable by anyone with the id, never listed
	Private  Visibility = "private"  // the owner only
)

// Valid reports whether v is a known visibility.
func (v Visibility) Valid() bool { return v == Public || v == Unlisted || v == Private }

// Video is one video of the site.
type Video struct {
	ID          string
	OwnerID     string
	Title       string
	Description string
	Tags        []string
	Visibility  Visibility
	Status      VideoStatus
	Progress    int    // 0–100 while processing
	FailureCode string // why processing failed (not_a_video, unsupported_codec, ...)

	// Upload: what the owner declared and the session of a multipart upload.
	Filename     string
	ContentType  string
	DeclaredSize int64
	UploadID     string // multipart upload id; "" for a single PUT
	PartSize     int64
	PartCount    int

	// Processing: the attempt that claimed the video and when.
	AttemptID string
	ClaimedAt time.Time

	// Published media.
	Duration      time.Duration
	Width, Height int
	Renditions    []Rendition
	MediaPrefix   string // media/{id}/{attempt}/
	CoverKey      string
	StoryboardKey string // sprite image
	StoryboardVTT string // WebVTT thumbnails track

	Counts    Counts
	CreatedAt time.Time
	UpdatedAt time.Time
	// PublishedAt is when the video first became ready.
	PublishedAt time.Time
	DeletedAt   time.Time
}

// Rendition is one rung of a published ladder.
type Rendition struct {
	Height       int     `json:"height"`
	Width        int     `json:"width"`
	Bandwidth    int     `json:"bandwidth"`     // peak bits/s, for BANDWIDTH
	AvgBandwidth int     `json:"avg_bandwidth"` // for AVERAGE-BANDWIDTH
	Codecs       string  `json:"codecs"`        // RFC 6381, e.g. "avc1.64001f,mp4a.40.2"
	FrameRate    float64 `json:"frame_rate"`
	Playlist     string  `json:"playlist"` // object key of the variant playlist
	Media        string  `json:"media"`    // object key of the single fMP4 file the playlist ranges into
	Size         int64   `json:"size"`     // bytes of Media
}

// Counts are a video's public counters.
type Counts struct {
	Views      int64 `json:"views"`
	Likes      int64 `json:"likes"`
	Favourites int64 `json:"favourites"`
	Comments   int64 `json:"comments"`
	Danmaku    int64 `json:"danmaku"`
}

// VisibleTo reports whether viewer (userID "" for anonymous) may see the video at all: owners
// see their videos in every state but deleted; everyone else sees ready videos that are not
// private.
func (v *Video) VisibleTo(userID string) bool {
	if v.Status == StatusDeleted {
		return false
	}
	if userID != "" && userID == v.OwnerID {
		return true
	}
	return v.Status == StatusReady && v.Visibility != Private
}

// Listed reports whether the video appears in public lists (a user's page, feeds).
func (v *Video) Listed() bool { return v.Status == StatusReady && v.Visibility == Public }

// Object layout of the media bucket. Transcode outputs never land under UploadsPrefix, which is
// the OSS trigger's prefix, or the function would trigger itself.
const (
	UploadsPrefix = "uploads/"
	MediaPrefix   = "media/"
	ReportsPrefix = "reports/"
)

// SourceKey is where the owner uploads the original file of video id.
func SourceKey(id string) string { return UploadsPrefix + id + "/source" }

// VideoMediaPrefix is where one processing attempt of video id writes its outputs.
func VideoMediaPrefix(id, attempt string) string { return path.Join(MediaPrefix, id, attempt) + "/" }
