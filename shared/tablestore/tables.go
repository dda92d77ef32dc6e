package tablestore

import "time"

// The tables of the product, defined once. `go run ./shared/cmd/tables` and the local cloud
// create or update them with Ensure. Column names are documented next to each table; the
// feature packages are the only writers of their tables.
//
// There are no secondary indexes: listing tables (user_videos, ...) are written by the feature
// next to the main row, so every read is a GetRow, a BatchGetRow or one GetRange.
var (
	// Users holds accounts (owner: shared/accounts). Columns: email (as typed at sign-up,
	// domain lower-cased), nickname, bio, password (PHC argon2id), tier, verified (bool),
	// created_at, verified_at, updated_at, sessions_after (unix ms: refresh families created
	// before it are dead; a password reset moves it). Roles are not stored: ADMIN_EMAILS
	// decides them when a token is issued.
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
	// read by tiering and the feed. Views are exact (each counted view once); likes,
	// favourites, comments and danmaku are net changes of the day (an unlike is -1), applied
	// exactly once per flush batch (flush_batch column) but collected at most once: a request
	// that dies between its counter increment and the Redis tally misses that day's figure.
	VideoStatsDaily = Table{Name: "video_stats_daily", Key: []KeyDef{{"video_id", String}, {"day", Integer}},
		TTL: 400 * 24 * time.Hour, Purpose: "per-video per-day activity"}

	// EmailCodes holds the one pending emailed code per address and purpose (verify_email,
	// reset_password); a new code replaces the old one. Columns: code_hash (keyed HMAC, never
	// the code; "" for an address without an account, so guesses there fail the same way),
	// user_id, expires_at (unix ms, ten minutes after sending), attempts (atomic increments,
	// spent before a guess is compared), created_at. Owner: shared/accounts. The TTL only
	// clears old rows; expiry is enforced from expires_at.
	EmailCodes = Table{Name: "email_codes", Key: []KeyDef{{"email", String}, {"purpose", String}},
		TTL: 24 * time.Hour, Purpose: "emailed one-time codes (hashed)"}

	// RefreshTokens holds one row per refresh token ever issued, keyed by its SHA-256 (the
	// token itself is never stored). Columns: user_id, family_id, state ("active" until a
	// conditional update rotates it to "rotated"), created_at, expires_at (the family's
	// absolute end, unix ms), rotated_at and child_hash (set by the rotation). Owner:
	// shared/accounts. The TTL outlives the longest allowed family.
	RefreshTokens = Table{Name: "refresh_tokens", Key: []KeyDef{{"token_hash", String}},
		TTL: 60 * 24 * time.Hour, Purpose: "refresh tokens (hashed), one row per rotation"}

	// RefreshFamilies holds one row per login session: the chain of refresh tokens rotated
	// from one login. Keyed by user first so a user's sessions are one range. Columns:
	// created_at, expires_at (absolute end, unix ms), revoked_at and revoked_reason (logout,
	// reuse) once revoked. Owner: shared/accounts.
	RefreshFamilies = Table{Name: "refresh_families", Key: []KeyDef{{"user_id", String}, {"family_id", String}},
		TTL: 60 * 24 * time.Hour, Purpose: "login sessions (refresh-token families)"}
)

// Engagement (shared/engagement): likes, favourites, comments and the bookkeeping that keeps
// every counter equal to what it counts. Edge rows are the truth; counters on the owner rows
// (videos, comments, fav_folders) are changed by atomic increments together with a
// counter_gen column, so a recount can commit only if no increment happened meanwhile.
var (
	// VideoLikes is the like edge: the row exists while user_id likes video_id. Columns:
	// liked_at, the stamp of the like (unix µs, unique per like; also the key of the user's
	// listing row).
	VideoLikes = Table{Name: "video_likes", Key: []KeyDef{{"video_id", String}, {"user_id", String}},
		Purpose: "who likes a video (edge, truth of videos.likes)"}

	// UserLikes lists a user's likes newest first. No columns; a row whose edge no longer has
	// the same liked_at is stale and skipped (and removed) by readers.
	UserLikes = Table{Name: "user_likes", Key: []KeyDef{{"user_id", String}, {"liked_at", Integer}, {"video_id", String}},
		Purpose: "a user's likes, newest first"}

	// VideoFavourites is the favourite edge: columns f_{folder_id} = added_at (a stamp, unix µs,
	// unique per change) per folder holding the video, and folders, the number of those columns. A video is
	// favourited by the user while folders > 0, so a video's favourite count counts users,
	// not folder entries.
	VideoFavourites = Table{Name: "video_favourites", Key: []KeyDef{{"video_id", String}, {"user_id", String}},
		Purpose: "who favourites a video and in which folders (edge, truth of videos.favourites)"}

	// FavFolders holds a user's folders. Columns: name, description, created_at, updated_at,
	// count (entries, a counter), counter_gen, deleting (bool, set while a delete runs).
	// The folder "default" is created on first use.
	FavFolders = Table{Name: "fav_folders", Key: []KeyDef{{"user_id", String}, {"folder_id", String}},
		Purpose: "favourite folders"}

	// FavEntries lists a folder's videos newest first. No columns; an entry whose edge column
	// f_{folder_id} does not equal added_at is stale and skipped (and removed) by readers.
	FavEntries = Table{Name: "fav_entries", Key: []KeyDef{{"user_id", String}, {"folder_id", String}, {"added_at", Integer}, {"video_id", String}},
		Purpose: "a folder's videos, newest first"}

	// Comments holds top-level comments, newest first by their sortable id. Columns:
	// author_id, text, created_at, deleted_at (0 while live), likes, replies, counter_gen.
	Comments = Table{Name: "comments", Key: []KeyDef{{"video_id", String}, {"comment_id", String}},
		Purpose: "top-level comments of a video"}

	// CommentReplies holds the replies of one thread (one reply level), oldest first.
	// Columns: author_id, text, reply_to_id, reply_to_user, created_at, deleted_at, likes,
	// counter_gen.
	CommentReplies = Table{Name: "comment_replies", Key: []KeyDef{{"video_id", String}, {"root_id", String}, {"comment_id", String}},
		Purpose: "replies of a comment thread"}

	// CommentIDs locates a comment from its id alone (routes /comments/{cid}). Columns:
	// video_id, root_id ("" for a top-level comment).
	CommentIDs = Table{Name: "comment_ids", Key: []KeyDef{{"comment_id", String}},
		Purpose: "comment id → video and thread"}

	// CommentLikes is the comment like edge: the row exists while user_id likes comment_id.
	// Columns: liked_at.
	CommentLikes = Table{Name: "comment_likes", Key: []KeyDef{{"comment_id", String}, {"user_id", String}},
		Purpose: "who likes a comment (edge, truth of the comment's likes)"}

	// EngagementIntents are the drift flags: a row is written before an edge changes and
	// deleted once the counters it names were incremented. A row older than any request can
	// live means a request died in between; rollup then recounts the counters it names.
	// Columns: targets (JSON list of counters), kind, created_at.
	EngagementIntents = Table{Name: "engagement_intents", Key: []KeyDef{{"bucket", String}, {"op_id", String}},
		Purpose: "counter changes in flight (drift flags for rollup)"}
)

// Danmaku (shared/danmaku).
var (
	// Danmaku holds bullet comments keyed so one 6-minute segment is one range read.
	// Columns: user_id, sender (CRC32 hex of user_id), text, mode, color, size, created_at,
	// hidden (bool, set after enough reports), reports.
	Danmaku = Table{Name: "danmaku", Key: []KeyDef{{"video_id", String}, {"segment", Integer}, {"time_ms", Integer}, {"danmaku_id", Integer}},
		Purpose: "danmaku by video, segment and time"}

	// DanmakuIDs locates a danmaku from its id (recall, report). Columns: video_id, segment,
	// time_ms, user_id, created_at.
	DanmakuIDs = Table{Name: "danmaku_ids", Key: []KeyDef{{"danmaku_id", Integer}},
		Purpose: "danmaku id → video, segment and time"}

	// DanmakuReports holds one report per user and danmaku. Columns: reason, created_at.
	DanmakuReports = Table{Name: "danmaku_reports", Key: []KeyDef{{"danmaku_id", Integer}, {"user_id", String}},
		Purpose: "danmaku reports"}
)

// Storage lifecycle (shared/tiering, shared/cleanup): what OSS cannot tell about the media.
var (
	// MediaTiers is tiering's bookkeeping per video (owner: shared/tiering). OSS tells each
	// object's class, size and Last-Modified; this row keeps what it cannot. Columns: version
	// (bumped by every claim and commit; the conditional writes on it keep two runs from moving
	// one object twice), cold (JSON array of the media keys in Archive or on their way there:
	// what playback checks before listing a rendition), pending (JSON: the moves a run claimed
	// and has not confirmed, with claimed_by and claimed_at; a later run settles them against
	// OSS), history (JSON: the last moves of each object with the cost computation that
	// justified them), charges (early-move charges paid, CNY, for the report), checked_at
	// (unix ms on the timer's clock).
	MediaTiers = Table{Name: "media_tiers", Key: []KeyDef{{"video_id", String}},
		Purpose: "storage tiering per video: cold keys, moves in flight, move history"}

	// MediaRestores tracks restores of Archive media, so each is requested once however many
	// viewers ask. Columns: object_modified (unix ms: the Last-Modified of the archived object
	// the restore is for), requested_at (unix ms), requested_by (play|tiering), days. Owner:
	// shared/tiering; the TTL only clears rows tiering did not remove itself.
	MediaRestores = Table{Name: "media_restores", Key: []KeyDef{{"video_id", String}, {"object_key", String}},
		TTL: 30 * 24 * time.Hour, Purpose: "Archive restores requested"}

	// TieringRuns holds the tiering timer's lease and cursor in the row "library": lease_owner,
	// lease_until (unix ms on the timer's clock), cursor (the last video id of the pass in
	// progress, "" between passes), pass_started, passes. Owner: shared/tiering.
	TieringRuns = Table{Name: "tiering_runs", Key: []KeyDef{{"name", String}},
		Purpose: "tiering lease and resumable cursor"}

	// CleanupRuns holds the cleanup timer's sweep positions, one row per swept prefix
	// ("media/", "uploads/"): cursor (the object key to continue after, "" between sweeps),
	// sweep_started, sweeps. Owner: shared/cleanup.
	CleanupRuns = Table{Name: "cleanup_runs", Key: []KeyDef{{"name", String}},
		Purpose: "cleanup sweep positions"}
)

// Schema is every table of the product.
var Schema = []Table{
	Users, UserEmails,
	Videos, UserVideos,
	VideoStatsDaily,
	VideoLikes, UserLikes, VideoFavourites, FavFolders, FavEntries,
	Comments, CommentReplies, CommentIDs, CommentLikes, EngagementIntents,
	Danmaku, DanmakuIDs, DanmakuReports,
	EmailCodes, RefreshTokens, RefreshFamilies,
	MediaTiers, MediaRestores, TieringRuns, CleanupRuns,
}
