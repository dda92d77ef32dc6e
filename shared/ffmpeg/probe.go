package ffmpeg

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"vodfc.dev/vodfc"
)

// Media is what Probe learned about an upload. Width and Height are the display size: after
// the container's rotation and the stream's sample aspect ratio, i.e. what a viewer sees.
type Media struct {
	Format   string        `json:"format"` // demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
	Size     int64         `json:"size"`   // bytes on disk
	Duration time.Duration `json:"duration"`
	Bitrate  int64         `json:"bitrate"` // bits/s of the whole file

	VideoStreams int `json:"videoStreams"` // not counting cover art (attached pictures)
	AudioStreams int `json:"audioStreams"`

	VideoCodec   string `json:"videoCodec"`
	VideoProfile string `json:"videoProfile,omitempty"`
	PixelFormat  string `json:"pixelFormat,omitempty"`
	VideoBitrate int64  `json:"videoBitrate"` // declared, or estimated from the file's bitrate
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	CodedWidth   int    `json:"codedWidth"`
	CodedHeight  int    `json:"codedHeight"`
	// Rotation is the display rotation in degrees counter-clockwise (0, 90, 180, 270), as
	// ffprobe reports the display matrix. ffmpeg applies it when decoding.
	Rotation int `json:"rotation"`
	// FrameRate is the nominal frame rate; FPS is the same as a float.
	FrameRate Rational `json:"frameRate"`
	FPS       float64  `json:"fps"`
	// VariableFrameRate is set when the average rate differs from the nominal one.
	VariableFrameRate bool `json:"variableFrameRate,omitempty"`
	Interlaced        bool `json:"interlaced,omitempty"`
	// HDR is set for PQ or HLG transfer characteristics; Transcode tone-maps such sources to
	// SDR BT.709 when the ffmpeg build has the zscale and tonemap filters.
	HDR bool `json:"hdr,omitempty"`
	// Colour description as ffprobe names it ("bt2020", "arib-std-b67", "bt2020nc"), when known.
	ColorPrimaries string `json:"colorPrimaries,omitempty"`
	ColorTransfer  string `json:"colorTransfer,omitempty"`
	ColorSpace     string `json:"colorSpace,omitempty"`

	HasAudio        bool   `json:"hasAudio"`
	AudioCodec      string `json:"audioCodec,omitempty"`
	AudioChannels   int    `json:"audioChannels,omitempty"`
	AudioSampleRate int    `json:"audioSampleRate,omitempty"`
	AudioBitrate    int64  `json:"audioBitrate,omitempty"`

	// DeclaredSize is the byte count the container's own stream bit rates and durations
	// promise (0 when it declares none). Far more than Size means the file was cut short.
	DeclaredSize int64 `json:"declaredSize,omitempty"`
}

// Rational is an exact frame rate such as 30000/1001.
type Rational struct {
	Num int `json:"num"`
	Den int `json:"den"`
}

// Float is the rate as a float (0 for an invalid rational).
func (r Rational) Float() float64 {
	if r.Den <= 0 || r.Num <= 0 {
		return 0
	}
	return float64(r.Num) / float64(r.Den)
}

// String renders the rational for ffmpeg options ("30000/1001").
func (r Rational) String() string { return strconv.Itoa(r.Num) + "/" + strconv.Itoa(r.Den) }

// Probe runs ffprobe on a local file with the protocol and format whitelists and a timeout,
// and describes it. Files ffprobe cannot read fail with a *vodfc.Error of kind Invalid and
// code not_a_video (nothing video-like in it) or corrupt (a video container that is broken).
// Probe reports facts; Validate decides whether they are acceptable.
func (t Tools) Probe(ctx context.Context, path string) (*Media, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, vodfc.Internal(fmt.Errorf("ffmpeg: probe: %w", err))
	}
	if !fi.Mode().IsRegular() {
		return nil, vodfc.Internal(fmt.Errorf("ffmpeg: probe: %s is not a regular file", path))
	}
	if fi.Size() == 0 {
		return nil, invalid(CodeNotAVideo, "the file is empty", nil)
	}
	url, err := inputURL(path)
	if err != nil {
		return nil, vodfc.Internal(err)
	}
	pctx, cancel := context.WithTimeout(ctx, t.probeTimeout())
	defer cancel()

	args := append([]string{"-hide_banner", "-v", "error"}, inputArgs()...)
	args = append(args, "-show_format", "-show_streams", "-show_error", "-of", "json", url)
	var out bytes.Buffer
	stderr := newTail(8 << 10)
	cmd := t.command(pctx, t.FFprobe, args)
	cmd.Stdout = &limitedWriter{w: &out, n: maxProbeOutput}
	cmd.Stderr = stderr
	runErr := cmd.Run()
	if err := probeContextError(ctx, pctx, runErr, t.probeTimeout()); err != nil {
		return nil, err
	}
	if errors.Is(runErr, errOutputTooLarge) {
		return nil, invalid(CodeNotAVideo, "the file describes too many streams to be a video upload", runErr)
	}
	var doc probeDoc
	if jerr := json.Unmarshal(out.Bytes(), &doc); jerr != nil && runErr == nil {
		return nil, vodfc.Internal(fmt.Errorf("ffmpeg: ffprobe output: %w", jerr))
	}
	if runErr != nil || doc.Format == nil {
		cause := &runError{bin: t.FFprobe, err: runErr, stderr: stderr.String()}
		if runErr == nil {
			cause.err = errors.New("no format section")
		}
		return nil, unreadable(path, cause)
	}
	m, err := doc.media(fi.Size())
	if err != nil {
		return nil, err
	}
	if m.Duration <= 0 && m.VideoStreams > 0 {
		// Some writers (browser MediaRecorder, live captures) never record a duration; read the
		// video packets' timestamps instead. Demuxing only, bounded by the same timeout.
		d, err := t.scanDuration(ctx, pctx, url)
		if err != nil {
			return nil, err
		}
		m.Duration = d
		if d > 0 && m.Bitrate == 0 {
			m.Bitrate = int64(float64(m.Size) * 8 / d.Seconds())
		}
	}
	if m.VideoBitrate == 0 && m.Bitrate > 0 {
		m.VideoBitrate = max(m.Bitrate-m.AudioBitrate, 0)
	}
	return m, nil
}

// maxProbeOutput bounds ffprobe's JSON: a real upload describes a handful of streams in a few
// kilobytes.
const maxProbeOutput = 4 << 20

// probeContextError turns the end of a context into the right error: the caller's own
// cancellation is passed on (retrying may help), our probe timeout means the file is
// pathological.
func probeContextError(parent, pctx context.Context, runErr error, limit time.Duration) error {
	if runErr == nil {
		return nil
	}
	if err := parent.Err(); err != nil {
		return vodfc.Unavailable(fmt.Errorf("ffmpeg: probe interrupted: %w", err))
	}
	if errors.Is(pctx.Err(), context.DeadlineExceeded) {
		return invalid(CodeCorrupt, "the file could not be read in time",
			fmt.Errorf("ffprobe exceeded %s: %w", limit, runErr))
	}
	return nil
}

// unreadable classifies a file ffprobe refused. ffprobe's messages do not tell a text file
// from a cut-off MP4 (the mov demuxer is picked from the .mp4 name and says "moov atom not
// found" for both), so look at the first bytes: a known container signature means a video
// that is broken, anything else is not a video at all.
func unreadable(path string, cause *runError) error {
	if strings.Contains(cause.stderr, "not on whitelist") {
		return invalid(CodeNotAVideo, "the file is not in a supported video container", cause)
	}
	if strings.Contains(cause.stderr, "Decoder") && strings.Contains(cause.stderr, "not found") {
		return invalid(CodeUnsupportedCodec, "the file uses a codec this service cannot decode", cause)
	}
	if looksLikeContainer(path) {
		return invalid(CodeCorrupt, "the video file is damaged or incomplete", cause)
	}
	return invalid(CodeNotAVideo, "the file is not a video", cause)
}

// looksLikeContainer reports whether the file starts like one of the whitelisted containers.
func looksLikeContainer(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var h [12]byte
	n, _ := io.ReadFull(f, h[:])
	b := h[:n]
	switch {
	case len(b) >= 8 && isBMFFBox(string(b[4:8])):
		return true
	case len(b) >= 4 && bytes.Equal(b[:4], []byte{0x1a, 0x45, 0xdf, 0xa3}): // EBML: Matroska, WebM
		return true
	case len(b) >= 3 && string(b[:3]) == "FLV":
		return true
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "AVI ":
		return true
	}
	return false
}

func isBMFFBox(typ string) bool {
	switch typ {
	case "ftyp", "moov", "mdat", "free", "skip", "wide", "pnot", "uuid", "styp":
		return true
	}
	return false
}

// scanDuration reads the first video stream's packet timestamps and returns where the last
// one ends.
func (t Tools) scanDuration(parent, ctx context.Context, url string) (time.Duration, error) {
	args := append([]string{"-hide_banner", "-v", "error"}, inputArgs()...)
	args = append(args, "-select_streams", "v:0", "-show_entries", "packet=pts_time,dts_time,duration_time",
		"-of", "csv=p=0", url)
	cmd := t.command(ctx, t.FFprobe, args)
	stderr := newTail(8 << 10)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, vodfc.Internal(err)
	}
	if err := cmd.Start(); err != nil {
		return 0, vodfc.Internal(fmt.Errorf("ffmpeg: start ffprobe: %w", err))
	}
	var end float64
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		ts := math.NaN()
		if len(f) > 0 {
			ts = parseFloat(f[0])
		}
		if math.IsNaN(ts) && len(f) > 1 {
			ts = parseFloat(f[1])
		}
		if math.IsNaN(ts) {
			continue
		}
		if len(f) > 2 {
			if d := parseFloat(f[2]); !math.IsNaN(d) && d > 0 {
				ts += d
			}
		}
		end = max(end, ts)
	}
	_, _ = io.Copy(io.Discard, stdout)
	runErr := cmd.Wait()
	if err := probeContextError(parent, ctx, runErr, t.probeTimeout()); err != nil {
		return 0, err
	}
	if runErr != nil {
		return 0, invalid(CodeCorrupt, "the video's timestamps cannot be read", &runError{bin: t.FFprobe, err: runErr, stderr: stderr.String()})
	}
	if end <= 0 || end > maxSeconds {
		return 0, nil
	}
	return seconds(end), nil
}

// maxSeconds caps durations read from files: anything longer than a week is a lie and would
// overflow nothing but common sense.
const maxSeconds = 7 * 24 * 3600

// probeDoc is the part of ffprobe's JSON this package reads.
type probeDoc struct {
	Streams []probeStream `json:"streams"`
	Format  *struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
		Size       string `json:"size"`
		BitRate    string `json:"bit_rate"`
	} `json:"format"`
}

type probeStream struct {
	Index             int               `json:"index"`
	CodecType         string            `json:"codec_type"`
	CodecName         string            `json:"codec_name"`
	Profile           string            `json:"profile"`
	Width             int               `json:"width"`
	Height            int               `json:"height"`
	SampleAspectRatio string            `json:"sample_aspect_ratio"`
	PixFmt            string            `json:"pix_fmt"`
	FieldOrder        string            `json:"field_order"`
	ColorTransfer     string            `json:"color_transfer"`
	ColorPrimaries    string            `json:"color_primaries"`
	ColorSpace        string            `json:"color_space"`
	RFrameRate        string            `json:"r_frame_rate"`
	AvgFrameRate      string            `json:"avg_frame_rate"`
	Duration          string            `json:"duration"`
	BitRate           string            `json:"bit_rate"`
	SampleRate        string            `json:"sample_rate"`
	Channels          int               `json:"channels"`
	Disposition       map[string]int    `json:"disposition"`
	Tags              map[string]string `json:"tags"`
	SideData          []map[string]any  `json:"side_data_list"`
}

func (d *probeDoc) media(size int64) (*Media, error) {
	m := &Media{Format: d.Format.FormatName, Size: size}
	if s := parseFloat(d.Format.Duration); s > 0 && s <= maxSeconds {
		m.Duration = seconds(s)
	}
	m.Bitrate = parseInt(d.Format.BitRate)
	var video, audio *probeStream
	var declaredBits float64
	for i := range d.Streams {
		s := &d.Streams[i]
		switch s.CodecType {
		case "video":
			if s.Disposition["attached_pic"] == 1 || s.Disposition["timed_thumbnails"] == 1 {
				continue // cover art, not a video stream
			}
			m.VideoStreams++
			if video == nil {
				video = s
			}
		case "audio":
			m.AudioStreams++
			if audio == nil {
				audio = s
			}
		default:
			continue
		}
		if br, dur := parseInt(s.BitRate), parseFloat(s.Duration); br > 0 && dur > 0 && dur <= maxSeconds {
			declaredBits += float64(br) * dur
		}
	}
	m.DeclaredSize = int64(declaredBits / 8)
	if m.Duration <= 0 {
		// No container duration: the longest stream's, if any stream knows its own.
		for _, s := range d.Streams {
			if v := parseFloat(s.Duration); v > 0 && v <= maxSeconds && seconds(v) > m.Duration {
				m.Duration = seconds(v)
			}
		}
	}
	if m.Bitrate == 0 && m.Duration > 0 {
		m.Bitrate = int64(float64(size) * 8 / m.Duration.Seconds())
	}
	if video != nil {
		m.VideoCodec = video.CodecName
		m.VideoProfile = video.Profile
		m.PixelFormat = video.PixFmt
		m.VideoBitrate = parseInt(video.BitRate)
		m.CodedWidth, m.CodedHeight = video.Width, video.Height
		m.Rotation = rotation(video)
		m.Width, m.Height = displaySize(video.Width, video.Height, video.SampleAspectRatio, m.Rotation)
		m.FrameRate, m.VariableFrameRate = frameRate(video.RFrameRate, video.AvgFrameRate)
		m.FPS = m.FrameRate.Float()
		switch video.FieldOrder {
		case "tt", "bb", "tb", "bt":
			m.Interlaced = true
		}
		m.ColorPrimaries, m.ColorTransfer, m.ColorSpace = video.ColorPrimaries, video.ColorTransfer, video.ColorSpace
		switch video.ColorTransfer {
		case "smpte2084", "arib-std-b67":
			m.HDR = true
		}
	}
	if audio != nil {
		m.HasAudio = true
		m.AudioCodec = audio.CodecName
		m.AudioChannels = audio.Channels
		m.AudioSampleRate = int(parseInt(audio.SampleRate))
		m.AudioBitrate = parseInt(audio.BitRate)
	}
	return m, nil
}

// rotation reads the display matrix rotation (ffprobe ≥ 5) or the legacy rotate tag, and
// normalizes it to 0, 90, 180 or 270.
func rotation(s *probeStream) int {
	deg := math.NaN()
	for _, sd := range s.SideData {
		if v, ok := sd["rotation"]; ok {
			switch v := v.(type) {
			case float64:
				deg = v
			case string:
				deg = parseFloat(v)
			}
		}
	}
	if math.IsNaN(deg) {
		if v, ok := s.Tags["rotate"]; ok {
			deg = parseFloat(v)
		}
	}
	if math.IsNaN(deg) {
		return 0
	}
	r := int(math.Round(deg/90)) * 90 % 360
	if r < 0 {
		r += 360
	}
	return r
}

// displaySize applies the sample aspect ratio (widening or narrowing the picture) and a
// quarter-turn rotation to the coded size.
func displaySize(w, h int, sar string, rot int) (int, int) {
	if n, d, ok := parseRatio(sar, ":"); ok && n > 0 && d > 0 && n != d {
		w = int(math.Round(float64(w) * float64(n) / float64(d)))
	}
	if rot == 90 || rot == 270 {
		return h, w
	}
	return w, h
}

// frameRate picks the nominal frame rate. r_frame_rate is ffmpeg's guess of the rate all
// timestamps fit; for phone VFR recordings it is the capture rate (30 or 60) while the
// average sags. It can also be nonsense (90000/1 from a timebase), so it is trusted only
// within sane bounds and not below the average.
func frameRate(r, avg string) (Rational, bool) {
	rr := ratio(r)
	ar := ratio(avg)
	rf, af := rr.Float(), ar.Float()
	switch {
	case rf >= 1 && rf <= 240 && (af == 0 || rf >= af*0.99):
		vfr := af > 0 && math.Abs(rf-af)/rf > 0.02
		return rr, vfr
	case af > 0:
		return ar, rf > 0 && math.Abs(rf-af)/af > 0.02
	default:
		return rr, false
	}
}

func ratio(s string) Rational {
	n, d, ok := parseRatio(s, "/")
	if !ok || n <= 0 || d <= 0 || n > math.MaxInt32 || d > math.MaxInt32 {
		return Rational{}
	}
	return Rational{Num: n, Den: d}
}

func parseRatio(s, sep string) (int, int, bool) {
	a, b, ok := strings.Cut(s, sep)
	if !ok {
		return 0, 0, false
	}
	n, err1 := strconv.Atoi(a)
	d, err2 := strconv.Atoi(b)
	return n, d, err1 == nil && err2 == nil
}

func parseFloat(s string) float64 {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsInf(v, 0) {
		return math.NaN()
	}
	return v
}

func parseInt(s string) int64 {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || v < 0 {
		return 0
	}
	return v
}

func seconds(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}
