// Package ffmpeg is the only code that runs the ffmpeg and ffprobe binaries. It owns the media
// core of the video pipeline: probing and validating uploads, planning the rendition ladder,
// encoding the whole ladder in one ffmpeg pass as fragmented-MP4 HLS together with a cover
// image and a storyboard, and reporting progress.
//
// # Use
//
//	tools, err := ffmpeg.FromEnv()              // FFMPEG_PATH, FFPROBE_PATH, else /opt/bin, else PATH
//	m, err := tools.Probe(ctx, "/tmp/job/source") // whitelisted demuxers, file: only, timeout
//	err = ffmpeg.Validate(m, ffmpeg.DefaultLimits())
//	ladder, err := ffmpeg.PlanLadder(m, ffmpeg.DefaultLadder())
//	res, err := tools.Transcode(ctx, "/tmp/job/source", "/tmp/job/out", m, ladder, ffmpeg.Options{}, onProgress)
//	// upload res.Files (names relative to the output directory, with content types)
//
// Refusals are *vodfc.Error values of kind Invalid with the codes not_a_video,
// unsupported_codec, too_long, too_large and corrupt (see the Code constants); failures that
// a retry may cure are kind Unavailable; everything else is kind Internal with ffmpeg's log
// tail in the cause (for logs only, never for users).
//
// # Untrusted input
//
// Uploads are hostile until proven otherwise. Every binary runs from an argv slice (never a
// shell) with stdin closed, under a context deadline, and dies with the calling process.
// Uploads are opened only as "file:" plus an absolute, caller-generated path (never an object
// key or URL) with -protocol_whitelist file and -format_whitelist FormatWhitelist as input
// options, so HLS playlists, concat scripts and image sequences renamed .mp4 are refused
// before anything they reference is opened. Transcode bounds the input duration (-t), the
// total output size (a watchdog stops ffmpeg) and the time taken. Global metadata and
// chapters (GPS tags from phones included) are not copied into the outputs.
//
// # Output layout
//
// For a ladder of rungs named "1080p", "720p", ... the output directory holds:
//
//	1080p.m3u8, 1080p.mp4   variant playlist + one fMP4 file (init section and all segments,
//	...                     addressed by byte ranges: one object per rung to sign and tier)
//	master.m3u8             written here, not by ffmpeg: BANDWIDTH (peak segment rate),
//	                        AVERAGE-BANDWIDTH, RESOLUTION, CODECS read from each init segment
//	                        ("avc1.64001f,mp4a.40.2"), FRAME-RATE
//	cover.jpg               the most detailed non-black frame among candidates picked by the
//	                        thumbnail filter in windows spread over the video
//	storyboard-N.jpg        sprites of 10×10 thumbnails, one every 5 s (more when long)
//	storyboard.vtt          WebVTT track: "storyboard-0.jpg#xywh=160,0,160,90"
//
// # Encoding decisions
//
//   - One pass: the source is decoded once; one filter graph converts it to a constant frame
//     rate (variable-rate phone videos included), scales it once to the top rung if larger,
//     tone-maps HDR (PQ/HLG) to BT.709 when the build has zscale, and splits it to every
//     rung's scaler and x264 encoder, to the cover candidates and to the storyboard.
//   - Keyframes every GOPDuration (2 s) in every rung (-g, -keyint_min, -sc_threshold 0), and
//     segments a multiple of it (4 s), so players switch rungs at any segment boundary.
//   - Rungs never exceed the source: a rung is kept when the source reaches its box on one
//     side; portrait sources use the box turned upright (they scale on width); rotated sources
//     are turned upright by ffmpeg's autorotation before the graph sees them.
//   - x264 capped CRF by default (-crf 23 -maxrate rung -bufsize 2×rung), preset veryfast.
//   - Audio: AAC-LC stereo 48 kHz per rung. Sources without audio get video-only rungs (no
//     invented silent track): CODECS then lists only the video codec, which every HLS player
//     handles, and no bits are spent on silence.
//   - Works with ffmpeg 5.1 (Debian) and 6.x (the FC layer): only options both have are used
//     (-fps_mode, -stats_period and -progress exist since 5.1/4.4; -format_whitelist and
//     -protocol_whitelist are demuxer-context options placed before -i).
package ffmpeg
