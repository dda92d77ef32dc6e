// Package tiering owns the storage lifecycle of published media: which OSS storage class each
// object of a video belongs in (Policy, Plan), what a move costs before its class's minimum
// storage duration and whether that pays (Prices.Judge), applying the differences safely and
// resumably (Runner, the nightly `tiering` timer), the storage cost report, and cold playback
// (Cold: which renditions can be read now, and restores of archived ones requested once).
//
// # What decides a class
//
// OSS's own lifecycle rules see only an object's age and last access. The policy uses what
// OSS cannot see: a video's views and engagement per day (video_stats_daily, written by
// rollup) over the last 7, 30 and 90 days, its age, and the ladder's structure. The uploaded
// source goes to Archive a day after a successful transcode; rungs above 480p go to IA when
// cold for 30 days and to Archive when untouched for 90; the master and variant playlists,
// cover, storyboard and the lowest rungs stay Standard, so every video starts playing at
// once; a rendition that turns hot again returns to Standard (an archived one is restored
// first). Objects under 64 KiB are never tiered: OSS bills them as 64 KiB outside Standard.
//
// # Minimum storage durations
//
// IA keeps an object billed for 30 days and Archive for 60, counted from Last-Modified, which
// a class change by copy resets. Leaving earlier bills the remainder at once. Waiting costs
// that remainder's storage anyway, so a move before the minimum is made only when what the
// current class costs beyond storage (retrieval, or repeated restores, of an object people
// watch) outweighs what the target class costs meanwhile; every such decision, made or
// deferred, is logged with both figures and recorded in the object's move history. The one
// exception is a pinned object found in Archive (put there by hand or by an OSS lifecycle
// rule): it cannot be read, so it is restored and moved back whatever the charge, which is
// still computed and recorded.
//
// # Runs
//
// A run takes a lease (tiering_runs, on the timer's clock) so two runs never work at once,
// walks the videos table from a cursor saved after every page (a large library spans several
// runs within the function's budget), and per video computes the target state from OSS's
// listing and applies only the differences. Moves are claimed on the video's media_tiers row
// with a conditional write before they are made and confirmed after; a run that dies in
// between leaves a claim the next run settles against OSS, so no move is made or counted
// twice. A dry run plans and logs everything and changes nothing.
package tiering
