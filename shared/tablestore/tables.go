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
	// read by tiering and the feed.
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

// Schema is every table of the product.
var Schema = []Table{
	Users, UserEmails,
	Videos, UserVideos,
	VideoStatsDaily,
	EmailCodes, RefreshTokens, RefreshFamilies,
}
