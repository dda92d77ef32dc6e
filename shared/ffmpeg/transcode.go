package ffmpeg

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"vodfc.dev/vodfc"
)

// RateControl chooses how x264 spends bits.
type RateControl int

const (
	// CappedCRF encodes at constant quality (Options.CRF) but never above the rung's bit rate
	// (maxrate = bit rate, bufsize = 2×): easy pictures cost less storage and bandwidth, hard
	// ones are held to the ladder. This is the default.
	CappedCRF RateControl = iota
	// AverageBitrate aims at the rung's bit rate on average, with the same peak cap.
	AverageBitrate
)

// Options tune Transcode. Zero fields take the defaults named on each.
type Options struct {
	Preset      string      // x264 preset, default "veryfast"
	RateControl RateControl // default CappedCRF
	CRF         int         // default 23
	// GOPDuration is the keyframe interval, identical in every rung so players can switch
	// between them at any segment boundary (default 2 s). SegmentDuration must be a multiple
	// of it (default 4 s).
	GOPDuration     time.Duration
	SegmentDuration time.Duration
	// MaxFPS caps the output frame rate (default 60): faster sources are halved until under it.
	MaxFPS float64
	// ProgressInterval is how often ffmpeg reports progress (default 1 s).
	ProgressInterval time.Duration
	// MaxOutputBytes bounds everything written under outDir; the run is stopped when it is
	// exceeded. 0 derives it from the ladder's peak rates and the duration with ample slack.
	MaxOutputBytes int64
	Cover          CoverOptions
	Storyboard     StoryboardOptions
}

// CoverOptions shape the cover image.
type CoverOptions struct {
	Disabled bool
	// MaxWidth×MaxHeight is the landscape box the cover fits in, turned upright for portrait
	// sources; never upscaled (default 1280×720).
	MaxWidth, MaxHeight int
	Quality             int // JPEG quality 1–100 (default 85)
	// Candidates is how many frames spread over the video are considered (default 4).
	Candidates int
}

// StoryboardOptions shape the storyboard (seek-preview thumbnails).
type StoryboardOptions struct {
	Disabled bool
	// Interval is the time between thumbnails (default 5 s); it grows when the video would
	// otherwise need more than MaxThumbnails (default 600).
	Interval      time.Duration
	MaxThumbnails int
	// TileSize is the long side of one thumbnail in pixels (default 160).
	TileSize int
	// Columns×Rows thumbnails make one sprite image (default 10×10).
	Columns, Rows int
	Quality       int // JPEG quality (default 75)
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if o.Preset == "" {
		o.Preset = "veryfast"
	}
	def(&o.CRF, 23)
	defDur(&o.GOPDuration, 2*time.Second)
	defDur(&o.SegmentDuration, 4*time.Second)
	if o.MaxFPS == 0 {
		o.MaxFPS = 60
	}
	defDur(&o.ProgressInterval, time.Second)
	def(&o.Cover.MaxWidth, 1280)
	def(&o.Cover.MaxHeight, 720)
	def(&o.Cover.Quality, 85)
	def(&o.Cover.Candidates, 4)
	defDur(&o.Storyboard.Interval, 5*time.Second)
	def(&o.Storyboard.MaxThumbnails, 600)
	def(&o.Storyboard.TileSize, 160)
	def(&o.Storyboard.Columns, 10)
	def(&o.Storyboard.Rows, 10)
	def(&o.Storyboard.Quality, 75)
	return o
}

func (o Options) check() error {
	switch {
	case !x264Presets[o.Preset]:
		return fmt.Errorf("unknown x264 preset %q", o.Preset)
	case o.CRF < 1 || o.CRF > 51:
		return fmt.Errorf("CRF %d outside 1–51", o.CRF)
	case o.RateControl != CappedCRF && o.RateControl != AverageBitrate:
		return fmt.Errorf("unknown rate control %d", o.RateControl)
	case o.GOPDuration < 500*time.Millisecond || o.GOPDuration > 10*time.Second:
		return fmt.Errorf("GOP duration %s outside 0.5–10 s", o.GOPDuration)
	case o.SegmentDuration%o.GOPDuration != 0:
		return fmt.Errorf("segment duration %s is not a multiple of the GOP duration %s", o.SegmentDuration, o.GOPDuration)
	case o.SegmentDuration > 30*time.Second:
		return fmt.Errorf("segment duration %s over 30 s", o.SegmentDuration)
	case o.MaxFPS < 1:
		return fmt.Errorf("max fps %g below 1", o.MaxFPS)
	case o.ProgressInterval < 100*time.Millisecond:
		return fmt.Errorf("progress interval %s below 100 ms", o.ProgressInterval)
	case o.Cover.MaxWidth < 16 || o.Cover.MaxHeight < 16 || o.Cover.Quality < 1 || o.Cover.Quality > 100 || o.Cover.Candidates < 1 || o.Cover.Candidates > 20:
		return fmt.Errorf("bad cover options %+v", o.Cover)
	case o.Storyboard.Interval < 100*time.Millisecond || o.Storyboard.MaxThumbnails < 1 || o.Storyboard.TileSize < 16 || o.Storyboard.TileSize > 640 ||
		o.Storyboard.Columns < 1 || o.Storyboard.Rows < 1 || o.Storyboard.Columns*o.Storyboard.TileSize > 16384 || o.Storyboard.Quality < 1 || o.Storyboard.Quality > 100:
		return fmt.Errorf("bad storyboard options %+v", o.Storyboard)
	}
	return nil
}

var x264Presets = map[string]bool{"ultrafast": true, "superfast": true, "veryfast": true, "faster": true,
	"fast": true, "medium": true, "slow": true, "slower": true, "veryslow": true, "placebo": true}

// Progress is one progress report of a Transcode.
type Progress struct {
	// Percent rises monotonically from 0; it stays below 100 while ffmpeg runs and reaches
	// 100 exactly once, when every output is written (Done).
	Percent   float64
	Processed time.Duration // media time encoded so far
	Duration  time.Duration // media time expected
	Speed     float64       // media seconds per wall-clock second, 0 when unknown
	Done      bool
}

// Transcode encodes the source at src into outDir in one ffmpeg run: the source is decoded
// once and the filter graph feeds every rung's encoder, the cover candidates and the
// storyboard thumbnails. m is the source's Probe result (after Validate) and ladder the
// rungs to encode (usually PlanLadder's). outDir must be empty or absent.
//
// progress, when non-nil, is called from one goroutine at most every Options.ProgressInterval
// while ffmpeg runs and once more with Done when the result is complete; keep it short
// (ffmpeg waits on it) and throttle storage writes in the caller.
//
// Errors are *vodfc.Error values: kind Invalid with a Code constant when the source turns
// out to be undecodable (corrupt, unsupported_codec, not_a_video, too_large when output
// runs away); kind Unavailable when ctx ends or the run exceeds its time limit (the cause
// wraps the context error); kind Internal for everything else (the cause carries the tail
// of ffmpeg's log). On error outDir may hold partial output; the caller discards it.
func (t Tools) Transcode(ctx context.Context, src, outDir string, m *Media, ladder []Rung, opts Options, progress func(Progress)) (*Result, error) {
	opts = opts.withDefaults()
	if err := opts.check(); err != nil {
		return nil, vodfc.Internal(fmt.Errorf("ffmpeg: transcode options: %w", err))
	}
	if err := checkJob(m, ladder); err != nil {
		return nil, vodfc.Internal(fmt.Errorf("ffmpeg: transcode: %w", err))
	}
	url, err := inputURL(src)
	if err != nil {
		return nil, vodfc.Internal(err)
	}
	if fi, err := os.Stat(src); err != nil || !fi.Mode().IsRegular() {
		return nil, vodfc.Internal(fmt.Errorf("ffmpeg: transcode: source %s is not a readable file: %v", src, err))
	}
	// ffmpeg reads output names as URLs and image/segment names as patterns: an absolute path
	// without '%' is read as exactly that file.
	if outDir, err = filepath.Abs(outDir); err != nil {
		return nil, vodfc.Internal(err)
	}
	if strings.ContainsAny(outDir, "%\r\n") {
		return nil, vodfc.Internal(fmt.Errorf("ffmpeg: output directory %q must not contain '%%' or line breaks", outDir))
	}
	if err := prepareOutDir(outDir); err != nil {
		return nil, vodfc.Internal(err)
	}
	work, err := os.MkdirTemp(outDir, ".work-")
	if err != nil {
		return nil, vodfc.Internal(err)
	}
	defer os.RemoveAll(work)

	p := newPlan(m, ladder, opts)
	if m.HDR {
		if p.toneMap, err = t.hasFilters(ctx, "zscale", "tonemap"); err != nil {
			return nil, vodfc.Internal(err)
		}
	}
	args := p.args(url, outDir, work)

	timeout := t.TranscodeTimeout
	if timeout <= 0 {
		timeout = 10*m.Duration + 2*time.Minute
	}
	if err := t.runFFmpeg(ctx, timeout, args, outDir, p.outputBudget(), m.Duration, opts.ProgressInterval, progress); err != nil {
		return nil, err
	}
	res, err := p.finish(ctx, t, outDir, work)
	if err != nil {
		return nil, err
	}
	if progress != nil {
		progress(Progress{Percent: 100, Processed: res.Duration, Duration: m.Duration, Done: true})
	}
	return res, nil
}

func checkJob(m *Media, ladder []Rung) error {
	if m == nil || m.Width < 2 || m.Height < 2 || m.Duration <= 0 || m.FPS <= 0 {
		return errors.New("media lacks size, duration or frame rate (probe and validate first)")
	}
	if len(ladder) == 0 {
		return errors.New("empty ladder")
	}
	seen := map[string]bool{}
	for _, r := range ladder {
		switch {
		case !rungName.MatchString(r.Name):
			return fmt.Errorf("rung name %q must match %s", r.Name, rungName)
		case seen[r.Name]:
			return fmt.Errorf("rung %q appears twice", r.Name)
		case r.Width < 2 || r.Height < 2 || r.Width%2 != 0 || r.Height%2 != 0:
			return fmt.Errorf("rung %q: size %dx%d must be even and positive", r.Name, r.Width, r.Height)
		case r.Width > m.Width || r.Height > m.Height:
			return fmt.Errorf("rung %q: %dx%d is above the source's %dx%d", r.Name, r.Width, r.Height, m.Width, m.Height)
		case r.VideoBitrate < 1000 || (m.HasAudio && r.AudioBitrate < 8000):
			return fmt.Errorf("rung %q: bit rates too low", r.Name)
		}
		seen[r.Name] = true
	}
	return nil
}

func prepareOutDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("ffmpeg: output directory: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("ffmpeg: output directory: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("ffmpeg: output directory %s is not empty", dir)
	}
	return nil
}

// plan is one Transcode worked out: rates, sizes and file names.
type plan struct {
	m        *Media
	ladder   []Rung
	opts     Options
	rate     Rational // output frame rate
	gop      int      // frames
	limit    time.Duration
	cover    *coverPlan
	board    *boardPlan
	interlac bool
	toneMap  bool // HDR source and a build that can tone-map it
	// top is the largest rung; when it is smaller than the source, frames are scaled to it
	// once, right after decoding, so every later filter (tone mapping, the other rungs'
	// scalers, cover and storyboard) works on fewer pixels.
	top      Rung
	prescale bool
}

type coverPlan struct {
	windows   [][2]float64 // seconds, [start, end)
	perWindow int          // frames per window at 2 fps
	w, h      int
}

type boardPlan struct {
	interval time.Duration
	w, h     int
}

func newPlan(m *Media, ladder []Rung, o Options) *plan {
	p := &plan{m: m, ladder: ladder, opts: o, interlac: m.Interlaced}
	p.top = ladder[0]
	for _, r := range ladder[1:] {
		if r.Width*r.Height > p.top.Width*p.top.Height {
			p.top = r
		}
	}
	p.prescale = p.top.Width < m.Width || p.top.Height < m.Height
	p.rate = outputRate(m.FrameRate, m.FPS, o.MaxFPS)
	p.gop = max(1, int(math.Round(o.GOPDuration.Seconds()*p.rate.Float())))
	// Never encode more than the source claims plus slack: a file whose timestamps run far past
	// its declared duration cannot make us encode for hours.
	p.limit = m.Duration + max(2*time.Second, m.Duration/20)
	d := m.Duration.Seconds()
	if !o.Cover.Disabled {
		c := &coverPlan{}
		n := o.Cover.Candidates
		win := math.Min(4, d/float64(n+1))
		for i := 1; i <= n; i++ {
			mid := d * float64(i) / float64(n+1)
			c.windows = append(c.windows, [2]float64{math.Max(0, mid-win/2), mid + win/2})
		}
		c.perWindow = max(1, int(math.Round(win*coverSampleRate)))
		bw, bh := o.Cover.MaxWidth, o.Cover.MaxHeight
		if (m.Height > m.Width) != (bh > bw) {
			bw, bh = bh, bw
		}
		c.w, c.h = fit(p.top.Width, p.top.Height, bw, bh)
		p.cover = c
	}
	if !o.Storyboard.Disabled {
		b := &boardPlan{interval: o.Storyboard.Interval}
		if need := time.Duration(math.Ceil(float64(m.Duration) / float64(o.Storyboard.MaxThumbnails))); need > b.interval {
			b.interval = need.Round(time.Millisecond) + time.Millisecond
		}
		ts := o.Storyboard.TileSize
		b.w, b.h = fit(p.top.Width, p.top.Height, ts, ts)
		p.board = b
	}
	return p
}

// coverSampleRate is how many frames per second the cover candidates are drawn from.
const coverSampleRate = 2

// fit scales w×h into bw×bh keeping the aspect ratio, never up, with even sides.
func fit(w, h, bw, bh int) (int, int) {
	f := math.Min(1, math.Min(float64(bw)/float64(w), float64(bh)/float64(h)))
	return even(float64(w)*f, w), even(float64(h)*f, h)
}

// standardRates are the rates a measured frame rate snaps to when within 1%.
var standardRates = []Rational{{24000, 1001}, {24, 1}, {25, 1}, {30000, 1001}, {30, 1}, {48, 1}, {50, 1},
	{60000, 1001}, {60, 1}, {100, 1}, {120000, 1001}, {120, 1}}

// outputRate turns the source's nominal rate into a constant output rate: snapped to a
// standard rate when close, otherwise to a multiple of 0.5 fps, then halved until ≤ maxFPS.
func outputRate(src Rational, fps, maxFPS float64) Rational {
	f := src.Float()
	if f <= 0 {
		f = fps
	}
	r := Rational{Num: max(1, int(math.Round(f*2))), Den: 2}
	best := 0.01
	for _, s := range standardRates {
		if d := math.Abs(f-s.Float()) / s.Float(); d < best {
			r, best = s, d
		}
	}
	for r.Float() > maxFPS {
		r.Den *= 2
	}
	g := gcd(r.Num, r.Den)
	return Rational{Num: r.Num / g, Den: r.Den / g}
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// outputBudget bounds the bytes written: every rung at its peak rate for the whole limit,
// doubled, plus room for images.
func (p *plan) outputBudget() int64 {
	if p.opts.MaxOutputBytes > 0 {
		return p.opts.MaxOutputBytes
	}
	var bps float64
	for _, r := range p.ladder {
		bps += float64(r.VideoBitrate + r.AudioBitrate)
	}
	return int64(bps/8*p.limit.Seconds()*2) + 256<<20
}

func secs(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// args builds the ffmpeg command line. Only generated names appear in it: the source behind
// file:, and outDir/work, which the caller created.
func (p *plan) args(url, outDir, work string) []string {
	o := p.opts
	a := []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+warning", "-n",
		"-progress", "pipe:1", "-stats_period", secs(o.ProgressInterval.Seconds())}
	a = append(a, inputArgs()...)
	a = append(a, "-t", secs(p.limit.Seconds()), "-i", url)

	// One decode, one frame-rate conversion, then a split feeding every consumer.
	var head []string
	if p.interlac {
		head = append(head, "yadif=deint=interlaced")
	}
	head = append(head, "fps="+p.rate.String())
	if p.prescale {
		head = append(head, fmt.Sprintf("scale=%d:%d", p.top.Width, p.top.Height))
	}
	if p.toneMap {
		head = append(head, toneMapChain(p.m)...)
	}
	labels := []string{"ladder"}
	if p.cover != nil {
		labels = append(labels, "c")
	}
	if p.board != nil {
		labels = append(labels, "b")
	}
	var g strings.Builder
	g.WriteString("[0:v]" + strings.Join(head, ","))
	if len(labels) > 1 {
		fmt.Fprintf(&g, ",split=%d", len(labels))
	}
	for _, l := range labels {
		g.WriteString("[" + l + "]")
	}
	// The rungs form a cascade, largest first: each is scaled from the next larger one rather
	// than from the source, so every scaler reads as few pixels as possible. All rungs share
	// the source's aspect ratio, so nothing is lost but a little sharpness at the bottom.
	order := make([]int, len(p.ladder))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return p.ladder[b].Width*p.ladder[b].Height - p.ladder[a].Width*p.ladder[a].Height
	})
	in := "ladder"
	for k, i := range order {
		r := p.ladder[i]
		fmt.Fprintf(&g, ";[%s]scale=%d:%d,setsar=1,format=yuv420p", in, r.Width, r.Height)
		if k == len(order)-1 {
			fmt.Fprintf(&g, "[v%d]", i)
			break
		}
		in = fmt.Sprintf("next%d", k)
		fmt.Fprintf(&g, ",split=2[v%d][%s]", i, in)
	}
	if c := p.cover; c != nil {
		var sel []string
		for _, w := range c.windows {
			sel = append(sel, fmt.Sprintf("gte(t,%s)*lt(t,%s)", secs(w[0]), secs(w[1])))
		}
		// The thumbnail filter keeps the frame closest to the average histogram of each batch:
		// the most representative picture of each window, not a fade or a flash.
		fmt.Fprintf(&g, ";[c]fps=%d,select='%s',scale=%d:%d,setsar=1", coverSampleRate, strings.Join(sel, "+"), c.w, c.h)
		if c.perWindow >= 2 { // with one frame per window, that frame is the candidate
			fmt.Fprintf(&g, ",thumbnail=n=%d", c.perWindow)
		}
		g.WriteString("[cover]")
	}
	if b := p.board; b != nil {
		// Thumbnail k is the first frame at or after k×interval.
		fmt.Fprintf(&g, ";[b]select='gte(t,%s*selected_n)',scale=%d:%d,setsar=1[board]",
			secs(b.interval.Seconds()), b.w, b.h)
	}
	a = append(a, "-filter_complex", g.String())

	for i, r := range p.ladder {
		a = append(a, "-map", fmt.Sprintf("[v%d]", i))
		if p.m.HasAudio {
			a = append(a, "-map", "0:a:0")
		}
		a = append(a, "-map_metadata", "-1", "-map_chapters", "-1",
			"-c:v", "libx264", "-preset", o.Preset, "-profile:v", "high")
		rate := strconv.Itoa(r.VideoBitrate)
		if o.RateControl == AverageBitrate {
			a = append(a, "-b:v", rate)
		} else {
			a = append(a, "-crf", strconv.Itoa(o.CRF))
		}
		a = append(a, "-maxrate", rate, "-bufsize", strconv.Itoa(2*r.VideoBitrate),
			"-g", strconv.Itoa(p.gop), "-keyint_min", strconv.Itoa(p.gop), "-sc_threshold", "0")
		if p.toneMap {
			a = append(a, "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709")
		}
		if p.m.HasAudio {
			a = append(a, "-c:a", "aac", "-b:a", strconv.Itoa(r.AudioBitrate), "-ac", "2", "-ar", "48000")
		}
		a = append(a, "-max_muxing_queue_size", "4096",
			"-f", "hls", "-hls_time", secs(o.SegmentDuration.Seconds()), "-hls_playlist_type", "vod",
			"-hls_list_size", "0", "-hls_segment_type", "fmp4",
			"-hls_flags", "single_file+independent_segments",
			"-hls_segment_filename", filepath.Join(outDir, r.Name+".mp4"),
			filepath.Join(outDir, r.Name+".m3u8"))
	}
	if p.cover != nil {
		a = append(a, "-map", "[cover]", "-map_metadata", "-1", "-fps_mode", "passthrough",
			"-c:v", "png", "-f", "image2", filepath.Join(work, "cover-%03d.png"))
	}
	if p.board != nil {
		a = append(a, "-map", "[board]", "-map_metadata", "-1", "-fps_mode", "passthrough",
			"-c:v", "png", "-f", "image2", filepath.Join(work, "board-%05d.png"))
	}
	return a
}

// toneMapChain maps PQ or HLG BT.2020 to SDR BT.709: linearize, convert the primaries in
// float, compress the highlights with the Hable curve, and re-encode the BT.709 transfer.
// The source's own colour description is passed in where ffprobe knew it, so a stream whose
// frames lack the tags still converts.
func toneMapChain(m *Media) []string {
	in := "t=linear:npl=100"
	if m.ColorTransfer == "smpte2084" || m.ColorTransfer == "arib-std-b67" {
		in = "tin=" + m.ColorTransfer + ":" + in
	}
	if m.ColorPrimaries == "bt2020" {
		in = "pin=bt2020:" + in
	}
	if m.ColorSpace == "bt2020nc" || m.ColorSpace == "bt2020c" {
		in = "min=" + m.ColorSpace + ":" + in
	}
	return []string{"zscale=" + in, "format=gbrpf32le", "zscale=p=bt709", "tonemap=tonemap=hable:desat=0",
		"zscale=t=bt709:m=bt709:r=tv", "format=yuv420p"}
}

// runFFmpeg runs one ffmpeg, reporting progress, watching the output size and mapping its
// failure to a domain error.
func (t Tools) runFFmpeg(parent context.Context, timeout time.Duration, args []string, outDir string, budget int64,
	duration time.Duration, every time.Duration, progress func(Progress)) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)

	cmd := t.command(ctx, t.FFmpeg, args)
	stderr := newTail(16 << 10)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return vodfc.Internal(err)
	}
	if err := cmd.Start(); err != nil {
		if parent.Err() != nil {
			return vodfc.Unavailable(fmt.Errorf("ffmpeg: transcode interrupted: %w", parent.Err()))
		}
		return vodfc.Internal(fmt.Errorf("ffmpeg: start %s: %w", t.FFmpeg, err))
	}

	var overBudget atomic.Bool
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		tick := time.NewTicker(max(every, 500*time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if dirSize(outDir) > budget {
					overBudget.Store(true)
					stop(errOutputTooLarge)
					return
				}
			}
		}
	}()

	readProgress(stdout, duration, progress)
	runErr := cmd.Wait()
	stop(nil)
	<-watchDone

	if runErr == nil {
		// A run can finish between two looks of the watchdog.
		if n := dirSize(outDir); n > budget {
			return invalid(CodeTooLarge, "the video's encoding grew far beyond its expected size",
				fmt.Errorf("output of %d bytes over %d", n, budget))
		}
		return nil
	}
	cause := &runError{bin: t.FFmpeg, err: runErr, stderr: stderr.String()}
	switch {
	case parent.Err() != nil:
		return vodfc.Unavailable(fmt.Errorf("ffmpeg: transcode interrupted: %w (%w)", parent.Err(), cause))
	case overBudget.Load():
		return invalid(CodeTooLarge, "the video's encoding grew far beyond its expected size",
			fmt.Errorf("output over %d bytes: %w", budget, cause))
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &vodfc.Error{Kind: vodfc.KindUnavailable, Code: "transcode_timeout",
			Message: "transcoding took too long", Cause: fmt.Errorf("ffmpeg exceeded %s: %w (%w)", timeout, context.DeadlineExceeded, cause)}
	}
	return classifyFailure(cause)
}

// classifyFailure tells a source ffmpeg cannot decode from a failure of our own making, by
// the messages ffmpeg prints.
func classifyFailure(cause *runError) error {
	log := cause.stderr
	switch {
	case strings.Contains(log, "not on whitelist"):
		return invalid(CodeNotAVideo, "the file is not in a supported video container", cause)
	case strings.Contains(log, "Decoder (codec") && strings.Contains(log, "not found"),
		strings.Contains(log, "Unsupported codec"):
		return invalid(CodeUnsupportedCodec, "the file uses a codec this service cannot decode", cause)
	case strings.Contains(log, "Invalid data found when processing input"),
		strings.Contains(log, "moov atom not found"),
		strings.Contains(log, "Error while decoding"),
		strings.Contains(log, "error reading header"),
		strings.Contains(log, "corrupt"):
		return invalid(CodeCorrupt, "the video file is damaged and cannot be decoded", cause)
	}
	return vodfc.Internal(cause)
}

// dirSize sums the sizes of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
