package ffmpeg

import (
	"fmt"
	"slices"
	"time"

	"vodfc.dev/vodfc"
)

// Codes of the *vodfc.Error values (kind Invalid) this package returns for uploads it
// refuses. They are stable: the transcode function stores them on the video and clients
// switch on them.
const (
	CodeNotAVideo        = "not_a_video"       // nothing video-like: text, images, audio only, empty
	CodeUnsupportedCodec = "unsupported_codec" // a video, but in a codec or shape we do not take
	CodeTooLong          = "too_long"          // longer than Limits.MaxDuration
	CodeTooLarge         = "too_large"         // dimensions, bit rate or size over the limits
	CodeCorrupt          = "corrupt"           // a video container that is broken or cut short
)

func invalid(code, message string, cause error) *vodfc.Error {
	return &vodfc.Error{Kind: vodfc.KindInvalid, Code: code, Message: message, Cause: cause}
}

// Limits is what an upload must satisfy before it is encoded.
type Limits struct {
	MaxDuration time.Duration
	// MaxWidth and MaxHeight bound the display size; MinSide is the smallest either side may
	// be. Portrait videos are measured the same way (4096 high is fine, 4097 is not).
	MaxWidth, MaxHeight, MinSide int
	MinFPS, MaxFPS               float64
	// MaxBitrate bounds the file's overall bit rate; MinBitrate catches files whose declared
	// duration is a lie (hours "in" a few kilobytes).
	MaxBitrate, MinBitrate int64
	// MaxSize bounds the file size in bytes; 0 leaves it to the caller.
	MaxSize int64
	// MaxAudioStreams is how many audio tracks an upload may carry; only the first is used.
	MaxAudioStreams int
	// VideoCodecs and AudioCodecs are the ffprobe codec names accepted.
	VideoCodecs, AudioCodecs []string
}

// DefaultLimits are the limits the issue sets: one video stream and at most one audio stream
// in a common codec, up to four hours, 64–4096 pixels a side, 1–120 fps.
func DefaultLimits() Limits {
	return Limits{
		MaxDuration: 4 * time.Hour,
		MaxWidth:    4096, MaxHeight: 4096, MinSide: 64,
		MinFPS: 1, MaxFPS: 120,
		MaxBitrate: 250_000_000, MinBitrate: 1_000,
		MaxAudioStreams: 1,
		VideoCodecs: []string{"h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "mpeg2video", "mpeg1video",
			"h263", "flv1", "mjpeg", "prores", "dvvideo", "msmpeg4v3"},
		AudioCodecs: []string{"aac", "mp3", "mp2", "ac3", "eac3", "opus", "vorbis", "flac", "alac",
			"amr_nb", "amr_wb", "pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be", "pcm_s32le",
			"pcm_f32le", "pcm_u8", "pcm_alaw", "pcm_mulaw"},
	}
}

// Validate checks probed media against the limits and returns the first violation as a
// *vodfc.Error of kind Invalid with one of the Code constants, or nil.
func Validate(m *Media, l Limits) error {
	if m == nil {
		return vodfc.Internal(fmt.Errorf("ffmpeg: validate: no media"))
	}
	if m.VideoStreams == 0 {
		if m.AudioStreams > 0 {
			return invalid(CodeNotAVideo, "the file has sound but no picture", nil)
		}
		return invalid(CodeNotAVideo, "the file has no video stream", nil)
	}
	if m.VideoStreams > 1 {
		return invalid(CodeUnsupportedCodec, fmt.Sprintf("the file has %d video streams; upload one", m.VideoStreams), nil)
	}
	if m.AudioStreams > max(l.MaxAudioStreams, 0) {
		return invalid(CodeUnsupportedCodec, fmt.Sprintf("the file has %d audio streams; at most %d are accepted", m.AudioStreams, l.MaxAudioStreams), nil)
	}
	if !slices.Contains(l.VideoCodecs, m.VideoCodec) {
		return invalid(CodeUnsupportedCodec, fmt.Sprintf("video codec %q is not supported", m.VideoCodec), nil)
	}
	if m.HasAudio && !slices.Contains(l.AudioCodecs, m.AudioCodec) {
		return invalid(CodeUnsupportedCodec, fmt.Sprintf("audio codec %q is not supported", m.AudioCodec), nil)
	}
	if m.Width <= 0 || m.Height <= 0 {
		return invalid(CodeCorrupt, "the video has no picture size", nil)
	}
	if m.Width > l.MaxWidth || m.Height > l.MaxHeight {
		return invalid(CodeTooLarge, fmt.Sprintf("the video is %dx%d; the largest accepted is %dx%d", m.Width, m.Height, l.MaxWidth, l.MaxHeight), nil)
	}
	if m.Width < l.MinSide || m.Height < l.MinSide {
		return invalid(CodeNotAVideo, fmt.Sprintf("the picture is %dx%d; videos need at least %d pixels a side", m.Width, m.Height, l.MinSide), nil)
	}
	if m.Duration <= 0 {
		return invalid(CodeCorrupt, "the video's duration cannot be determined", nil)
	}
	if l.MaxDuration > 0 && m.Duration > l.MaxDuration {
		return invalid(CodeTooLong, fmt.Sprintf("the video lasts %s; the longest accepted is %s", m.Duration.Round(time.Second), l.MaxDuration), nil)
	}
	if m.FPS <= 0 {
		return invalid(CodeCorrupt, "the video's frame rate cannot be determined", nil)
	}
	if m.FPS < l.MinFPS || (l.MaxFPS > 0 && m.FPS > l.MaxFPS) {
		return invalid(CodeUnsupportedCodec, fmt.Sprintf("the video runs at %.3g fps; accepted are %g to %g", m.FPS, l.MinFPS, l.MaxFPS), nil)
	}
	if l.MaxSize > 0 && m.Size > l.MaxSize {
		return invalid(CodeTooLarge, fmt.Sprintf("the file has %d bytes; the largest accepted is %d", m.Size, l.MaxSize), nil)
	}
	if l.MaxBitrate > 0 && m.Bitrate > l.MaxBitrate {
		return invalid(CodeTooLarge, fmt.Sprintf("the video's bit rate is %d kb/s; the highest accepted is %d kb/s", m.Bitrate/1000, l.MaxBitrate/1000), nil)
	}
	if m.Bitrate > 0 && m.Bitrate < l.MinBitrate {
		return invalid(CodeCorrupt, fmt.Sprintf("the file is too small (%d bytes) for the %s it claims to last", m.Size, m.Duration.Round(time.Second)), nil)
	}
	// A container that promises far more bytes than the file holds was cut short (a faststart
	// MP4 keeps its index at the front, so ffprobe reads it happily). The slack covers headers
	// and rounding in the declared rates.
	if m.DeclaredSize > 0 && m.Size < (m.DeclaredSize*8/10)-(64<<10) {
		return invalid(CodeCorrupt, fmt.Sprintf("the file holds %d of the %d bytes it declares; the upload is incomplete", m.Size, m.DeclaredSize), nil)
	}
	return nil
}
