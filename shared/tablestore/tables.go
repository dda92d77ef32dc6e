package tablestore

import "time"

// The tables of the product, defined once. `go run ./shared/cmd/tables` and the local cloud
// create or update them with Ensure. Column names are documented next to each table; the
// feature packages are the only writers of their tables.
//
// There are no secondary indexes: listing tables (user_videos, ...) are written by the feature
// next to the main row, so every read is a GetRow, a BatchGetRow or one GetRange.
var (
	// Users holds accounts. Columns: email, nickname, bio, password (PHC argon2id), tier,
	// roles (comma separated), verified (bool), created_at, verified_at, updated_at (unix ms).
	Users = Table{Name: "users", Key: []KeyDef{{"user_id", String}},
		Purpose: "accounts"}

	// UserEmails maps a normalised email address to its account; a conditional put that
	// expects the row not to exist is what makes addresses unique. Columns: user_id, created_at.
	UserEmails = Table{Name: "user_emails", Key: []KeyDef{{"email", String}},
		Purpose: "email → account, uniqueness"}

	// Videos holds one row per video: metadata, upload session, processing state, the
	// published ladder and the counters. See docs/architecture.md "Video row".
	Videos = Table{Name: "videos", Key: []KeyDef{{"video_id", String}},
		Purpose: "videos"}

	// UserVideos lists a user's videos newest first (GetRange backward on owner_id).
	// Columns: none needed beyond the key; the video row is the truth.
	UserVideos = Table{Name: "user_videos", Key: []KeyDef{{"owner_id", String}, {"created_at", Integer}, {"video_id", String}},
		Purpose: "a user's videos, newest first"}

	// VideoStatsDaily is the popularity signal: per video and day (UTC yyyymmdd), columns
	// views, likes, favourites, comments, danmaku (increments of that day). Written by rollup,
	// read by tiering and the feed.
	VideoStatsDaily = Table{Name: "video_stats_daily", Key: []KeyDef{{"video_id", String}, {"day", Integer}},
		TTL: 400 * 24 * time.Hour, Purpose: "per-video per-day activity"}
)

// Schema is every table of the product.
var Schema = []Table{
	Users, UserEmails,
	Videos, UserVideos,
	VideoStatsDaily,
}
