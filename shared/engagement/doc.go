// Package engagement owns what viewers do to videos: likes, favourite folders, comments and
// replies, view counting, and the counters all of them move (likes, favourites, comments,
// views on the video row; likes and replies on comments; entries of folders). Danmaku keep
// their own package but count through this one's Ledger.
//
// # Counters equal what they count
//
// Tablestore has no multi-row transactions here, so a change touches its rows in an order that
// makes every failure recoverable (see Ledger): an intent row first, then the truth (an edge
// row written with a row condition, so only a real change passes), then the counter (an atomic
// increment with the row's generation), then the intent is deleted. Retries — a client's, FC's
// redelivery, the SDK's — find the truth already changed and increment nothing; racing changes
// of the same edge are ordered by its conditions; a request that dies mid-way leaves its intent,
// which rollup treats as a drift flag and settles by recounting. Listing rows (a user's likes, a
// folder's videos) are written before the edge and checked against it on read, so a crash can
// leave a stale listing row (skipped and removed) but never a missing one.
//
// # Views
//
// A view counts once per viewer and hour after 10 s of heartbeats; Redis decides (one round
// trip per group of concurrent heartbeats), each instance remembers the windows Redis told it
// about so the heartbeats of a running window need no round trip, and rollup moves counted
// views into the video rows and the per-day stats exactly once (Flush).
//
// # Reads
//
// Counters are served from a Redis cache that every change writes through, ordered by the row
// generation so a late writer never rolls it back (counts.go says how stale a count can be).
package engagement
