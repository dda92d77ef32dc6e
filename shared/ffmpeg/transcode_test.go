package ffmpeg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/ffmpeg/hls"
)

// smallLadder keeps the test encodes cheap while still giving three rungs.
func smallLadder() LadderConfig {
	return LadderConfig{Rungs: []Rung{
		{Name: "360p", Width: 640, Height: 360, VideoBitrate: 600_000, AudioBitrate: 96_000},
		{Name: "240p", Width: 426, Height: 240, VideoBitrate: 300_000, AudioBitrate: 64_000},
		{Name: "144p", Width: 256, Height: 144, VideoBitrate: 120_000, AudioBitrate: 48_000},
	}, BitrateCap: 1.3, MinVideoBitrate: 50_000, MinAudioBitrate: 48_000}
}

type probedStream struct {
	CodecType  string            `json:"codec_type"`
	CodecName  string            `json:"codec_name"`
	Profile    string            `json:"profile"`
	Level      int               `json:"level"`
	Width      int               `json:"width"`
	Height     int               `json:"height"`
	Channels   int               `json:"channels"`
	SampleRate string            `json:"sample_rate"`
	RFrameRate string            `json:"r_frame_rate"`
	SideData   []map[string]any  `json:"side_data_list"`
	Tags       map[string]string `json:"tags"`
}

func streamsOf(t *testing.T, path string) []probedStream {
	var doc struct {
		Streams []probedStream `json:"streams"`
	}
	ffprobeJSON(t, &doc, "-show_streams", path)
	return doc.Streams
}

// keyframes lists the pts of the video keyframes in a file, in seconds.
func keyframes(t *testing.T, path string) []string {
	var doc struct {
		Packets []struct {
			PTS   string `json:"pts_time"`
			Flags string `json:"flags"`
		} `json:"packets"`
	}
	ffprobeJSON(t, &doc, "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags", path)
	var keys []string
	for _, p := range doc.Packets {
		if strings.HasPrefix(p.Flags, "K") {
			keys = append(keys, p.PTS)
		}
	}
	return keys
}

func TestTranscodeLadder(t *testing.T) {
	src := fixture("main.mp4")
	m := probeOK(t, "main.mp4")
	ladder, err := PlanLadder(m, smallLadder())
	if err != nil {
		t.Fatal(err)
	}
	if len(ladder) != 3 {
		t.Fatalf("ladder %+v", ladder)
	}
	out := filepath.Join(t.TempDir(), "out")
	var reports []Progress
	opts := Options{Storyboard: StoryboardOptions{Interval: time.Second}, ProgressInterval: 200 * time.Millisecond}
	res, err := tools.Transcode(context.Background(), src, out, m, ladder, opts, func(p Progress) { reports = append(reports, p) })
	if err != nil {
		t.Fatal(err)
	}

	t.Run("rungs", func(t *testing.T) {
		if len(res.Rungs) != 3 || res.FrameRate != (Rational{30, 1}) {
			t.Fatalf("result %+v", res)
		}
		for i, r := range res.Rungs {
			s := streamsOf(t, filepath.Join(out, r.MediaFile))
			if len(s) != 2 || s[0].CodecType != "video" || s[1].CodecType != "audio" {
				t.Fatalf("%s: streams %+v", r.Name, s)
			}
			v, a := s[0], s[1]
			if v.Width != ladder[i].Width || v.Height != ladder[i].Height || r.Width != v.Width || r.Height != v.Height ||
				v.Width > m.Width || v.Height > m.Height {
				t.Errorf("%s: encoded %dx%d, planned %dx%d, reported %dx%d", r.Name, v.Width, v.Height, ladder[i].Width, ladder[i].Height, r.Width, r.Height)
			}
			if v.RFrameRate != "30/1" {
				t.Errorf("%s: frame rate %s", r.Name, v.RFrameRate)
			}
			if a.CodecName != "aac" || a.Channels != 2 || a.SampleRate != "48000" {
				t.Errorf("%s: audio %+v", r.Name, a)
			}
			// CODECS must name what ffprobe sees: High profile and the stream's level.
			want := fmt.Sprintf("avc1.6400%02x", v.Level)
			if v.Profile != "High" || !slices.Equal(r.Codecs, []string{want, "mp4a.40.2"}) {
				t.Errorf("%s: codecs %v, ffprobe says %s level %d", r.Name, r.Codecs, v.Profile, v.Level)
			}
			if r.Bandwidth < r.AverageBandwidth || r.AverageBandwidth <= 0 {
				t.Errorf("%s: bandwidth %d average %d", r.Name, r.Bandwidth, r.AverageBandwidth)
			}
		}
	})

	t.Run("keyframes aligned", func(t *testing.T) {
		var first []string
		for _, r := range res.Rungs {
			keys := keyframes(t, filepath.Join(out, r.MediaFile))
			if first == nil {
				first = keys
				// One keyframe every 2 s exactly. The first picture is presented after the
				// encoder's B-frame delay (fragmented MP4 has no edit list to hide it; audio is
				// shifted alike, so sync holds), hence the check on spacing.
				if len(keys) != 3 {
					t.Errorf("%s keyframes %v, want 3 in 6 s", r.Name, keys)
				}
				for i := 1; i < len(keys); i++ {
					a, _ := strconv.ParseFloat(keys[i-1], 64)
					b, _ := strconv.ParseFloat(keys[i], 64)
					if math.Abs(b-a-2) > 1e-3 {
						t.Errorf("%s keyframes %v not 2 s apart", r.Name, keys)
					}
				}
				continue
			}
			if !slices.Equal(keys, first) {
				t.Errorf("%s keyframes %v differ from %v", r.Name, keys, first)
			}
		}
	})

	t.Run("segments", func(t *testing.T) {
		for _, r := range res.Rungs {
			f, err := os.Open(filepath.Join(out, r.Playlist))
			if err != nil {
				t.Fatal(err)
			}
			pl, err := hls.ParseMedia(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if pl.PlaylistType != "VOD" || !pl.EndList || pl.Map == nil || pl.Map.URI != r.MediaFile || pl.TargetDuration != 4 {
				t.Errorf("%s: playlist %+v", r.Name, pl)
			}
			var durs []time.Duration
			next := pl.Map.ByteRange.End()
			for _, s := range pl.Segments {
				durs = append(durs, s.Duration)
				if s.URI != r.MediaFile || s.ByteRange == nil || s.ByteRange.Offset != next {
					t.Errorf("%s: segment %+v not contiguous at %d", r.Name, s, next)
				}
				next = s.ByteRange.End()
			}
			if next != r.Size {
				t.Errorf("%s: segments end at %d, file has %d bytes", r.Name, next, r.Size)
			}
			if !slices.Equal(durs, []time.Duration{4 * time.Second, 2 * time.Second}) {
				t.Errorf("%s: segment durations %v, want 4s then the 2s rest", r.Name, durs)
			}
		}
	})

	t.Run("master", func(t *testing.T) {
		f, err := os.Open(filepath.Join(out, res.Master))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		master, err := hls.ParseMaster(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(master.Variants) != 3 {
			t.Fatalf("variants %+v", master.Variants)
		}
		for i, v := range master.Variants {
			r := res.Rungs[i]
			if v.URI != r.Playlist || v.Bandwidth != r.Bandwidth || v.AverageBandwidth != r.AverageBandwidth ||
				v.Width != r.Width || v.Height != r.Height || v.FrameRate != 30 || !slices.Equal(v.Codecs, r.Codecs) {
				t.Errorf("variant %+v vs rung %+v", v, r)
			}
		}
	})

	t.Run("cover not black", func(t *testing.T) {
		f, err := os.Open(filepath.Join(out, res.Cover))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		img, err := jpeg.Decode(f)
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != 640 || b.Dy() != 360 {
			t.Errorf("cover is %v", b)
		}
		// The source is black until 2.5 s; the first two candidate windows fall there.
		if s := measureLuma(img); s.mean < 50 || !s.usable() {
			t.Errorf("cover luma %+v", s)
		}
	})

	t.Run("storyboard", func(t *testing.T) {
		sb := res.Storyboard
		if sb == nil {
			t.Fatal("no storyboard")
		}
		want := int(math.Ceil(res.Duration.Seconds() / sb.Interval.Seconds()))
		if sb.Count != want || sb.Count != 6 || sb.Interval != time.Second || len(sb.Images) != 1 {
			t.Fatalf("storyboard %+v, want %d tiles", sb, want)
		}
		f, err := os.Open(filepath.Join(out, sb.Images[0]))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := jpeg.DecodeConfig(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if sb.TileWidth != 160 || sb.TileHeight != 90 || cfg.Width != 6*160 || cfg.Height != 90 {
			t.Errorf("sprite %dx%d, tiles %dx%d", cfg.Width, cfg.Height, sb.TileWidth, sb.TileHeight)
		}
		vtt, err := os.ReadFile(filepath.Join(out, sb.VTT))
		if err != nil {
			t.Fatal(err)
		}
		cues := parseVTT(t, string(vtt))
		if len(cues) != sb.Count {
			t.Fatalf("%d cues for %d tiles", len(cues), sb.Count)
		}
		var at time.Duration
		for i, c := range cues {
			if c.start != at || c.end <= c.start {
				t.Errorf("cue %d %v–%v does not continue from %v", i, c.start, c.end, at)
			}
			at = c.end
			if wantRef := fmt.Sprintf("storyboard-0.jpg#xywh=%d,0,160,90", i*160); c.ref != wantRef {
				t.Errorf("cue %d ref %q, want %q", i, c.ref, wantRef)
			}
		}
		if at != res.Duration.Truncate(time.Millisecond) {
			t.Errorf("cues end at %v, video lasts %v", at, res.Duration)
		}
	})

	t.Run("progress", func(t *testing.T) {
		if len(reports) < 2 {
			t.Fatalf("only %d progress reports", len(reports))
		}
		for i := 1; i < len(reports); i++ {
			if reports[i].Percent < reports[i-1].Percent {
				t.Errorf("progress fell: %v then %v", reports[i-1].Percent, reports[i].Percent)
			}
		}
		last := reports[len(reports)-1]
		if last.Percent != 100 || !last.Done || reports[len(reports)-2].Percent >= 100 {
			t.Errorf("last reports %+v %+v", reports[len(reports)-2], last)
		}
		for _, r := range reports[:len(reports)-1] {
			if r.Done || r.Duration != m.Duration {
				t.Errorf("intermediate report %+v", r)
			}
		}
	})

	t.Run("files", func(t *testing.T) {
		var listed []string
		for _, f := range res.Files {
			fi, err := os.Stat(filepath.Join(out, f.Name))
			if err != nil || fi.Size() != f.Size || f.Size == 0 || f.ContentType == "" {
				t.Errorf("file %+v: %v", f, err)
			}
			listed = append(listed, f.Name)
		}
		entries, _ := os.ReadDir(out)
		var onDisk []string
		for _, e := range entries {
			onDisk = append(onDisk, e.Name())
		}
		slices.Sort(listed)
		if !slices.Equal(listed, onDisk) {
			t.Errorf("listed %v, on disk %v", listed, onDisk)
		}
	})

	t.Run("filtered master", func(t *testing.T) {
		// What playback does: only some rungs, with signed URIs.
		rungs := slices.Clone(res.Rungs[1:])
		for i := range rungs {
			rungs[i].Playlist = "https://oss.example/" + rungs[i].Playlist + "?Signature=x%2By"
		}
		var b bytes.Buffer
		if err := WriteMaster(&b, rungs); err != nil {
			t.Fatal(err)
		}
		m, err := hls.ParseMaster(&b)
		if err != nil || len(m.Variants) != 2 || m.Variants[0].URI != rungs[0].Playlist {
			t.Fatalf("filtered master %+v: %v", m, err)
		}
		if err := WriteMaster(&b, nil); err == nil {
			t.Error("empty master written")
		}
	})
}

type vttCue struct {
	start, end time.Duration
	ref        string
}

func parseVTT(t *testing.T, s string) []vttCue {
	t.Helper()
	blocks := strings.Split(strings.TrimSpace(s), "\n\n")
	if blocks[0] != "WEBVTT" {
		t.Fatalf("vtt header %q", blocks[0])
	}
	var cues []vttCue
	for _, b := range blocks[1:] {
		lines := strings.Split(b, "\n")
		if len(lines) != 2 {
			t.Fatalf("cue %q", b)
		}
		from, to, ok := strings.Cut(lines[0], " --> ")
		if !ok {
			t.Fatalf("cue timing %q", lines[0])
		}
		cues = append(cues, vttCue{start: vttParse(t, from), end: vttParse(t, to), ref: lines[1]})
	}
	return cues
}

func vttParse(t *testing.T, s string) time.Duration {
	var h, m, sec, ms int
	if _, err := fmt.Sscanf(s, "%d:%d:%d.%d", &h, &m, &sec, &ms); err != nil {
		t.Fatalf("vtt time %q: %v", s, err)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second + time.Duration(ms)*time.Millisecond
}

// transcodeFixture runs the whole path (probe, validate, default ladder) on a fixture with
// cheap options.
func transcodeFixture(t *testing.T, name string, opts Options) (*Media, *Result, string) {
	t.Helper()
	m := probeOK(t, name)
	ladder, err := PlanLadder(m, DefaultLadder())
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if opts.Preset == "" {
		opts.Preset = "ultrafast"
	}
	res, err := tools.Transcode(context.Background(), fixture(name), out, m, ladder, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m, res, out
}

func TestTranscodePortrait(t *testing.T) {
	_, res, out := transcodeFixture(t, "portrait.mp4", Options{Storyboard: StoryboardOptions{Disabled: true}})
	if len(res.Rungs) != 1 || res.Rungs[0].Width != 360 || res.Rungs[0].Height != 640 {
		t.Fatalf("rungs %+v", res.Rungs)
	}
	s := streamsOf(t, filepath.Join(out, res.Rungs[0].MediaFile))
	if s[0].Width != 360 || s[0].Height != 640 {
		t.Fatalf("encoded %dx%d", s[0].Width, s[0].Height)
	}
	if res.Storyboard != nil {
		t.Error("storyboard written though disabled")
	}
}

func TestTranscodeRotated(t *testing.T) {
	m, res, out := transcodeFixture(t, "rotated.mp4", Options{Cover: CoverOptions{Disabled: true}})
	if m.Rotation != 90 {
		t.Fatalf("rotation %d", m.Rotation)
	}
	r := res.Rungs[0]
	s := streamsOf(t, filepath.Join(out, r.MediaFile))
	// The picture is turned upright in the pixels; no display matrix is left to turn it again.
	if r.Width != 360 || r.Height != 640 || s[0].Width != 360 || s[0].Height != 640 {
		t.Fatalf("rotated source encoded %dx%d (reported %dx%d)", s[0].Width, s[0].Height, r.Width, r.Height)
	}
	for _, sd := range s[0].SideData {
		if rot, ok := sd["rotation"]; ok && rot != float64(0) {
			t.Errorf("output still carries rotation %v", rot)
		}
	}
	if res.Cover != "" {
		t.Error("cover written though disabled")
	}
	if sb := res.Storyboard; sb == nil || sb.TileWidth != 90 || sb.TileHeight != 160 {
		t.Errorf("portrait storyboard tiles %+v", sb)
	}
}

func TestTranscodeVariableFrameRate(t *testing.T) {
	m, res, out := transcodeFixture(t, "vfr.mp4", Options{})
	if !m.VariableFrameRate {
		t.Fatal("fixture is not VFR")
	}
	var doc struct {
		Packets []struct {
			Duration json.Number `json:"duration"`
		} `json:"packets"`
	}
	ffprobeJSON(t, &doc, "-select_streams", "v:0", "-show_entries", "packet=duration", filepath.Join(out, res.Rungs[0].MediaFile))
	if len(doc.Packets) < 100 {
		t.Fatalf("%d frames for %v at 30 fps", len(doc.Packets), res.Duration)
	}
	for i, p := range doc.Packets {
		if p.Duration != doc.Packets[0].Duration {
			t.Fatalf("frame %d lasts %s, frame 0 %s: not constant", i, p.Duration, doc.Packets[0].Duration)
		}
	}
	if res.FrameRate != (Rational{30, 1}) {
		t.Errorf("frame rate %v", res.FrameRate)
	}
}

func TestTranscodeWithoutAudio(t *testing.T) {
	_, res, out := transcodeFixture(t, "silent.mp4", Options{})
	r := res.Rungs[0]
	// ultrafast uses no High-profile tools, so x264 writes (constrained) baseline: the codec
	// string follows the stream, whatever profile was allowed.
	if len(r.Codecs) != 1 || !strings.HasPrefix(r.Codecs[0], "avc1.") || r.AudioBitrate != 0 {
		t.Fatalf("video-only rung %+v", r)
	}
	if s := streamsOf(t, filepath.Join(out, r.MediaFile)); len(s) != 1 {
		t.Fatalf("streams %+v", s)
	}
	master, _ := os.ReadFile(filepath.Join(out, res.Master))
	if strings.Contains(string(master), "mp4a") {
		t.Errorf("master names audio:\n%s", master)
	}
}

func TestTranscodeHDRIsToneMapped(t *testing.T) {
	m := probeOK(t, "hlg.mp4")
	if !m.HDR || m.ColorTransfer != "arib-std-b67" || m.VideoCodec != "hevc" {
		t.Fatalf("fixture not HLG: %+v", m)
	}
	// Only a rung below the source: frames are scaled down once before tone mapping.
	ladder := []Rung{{Name: "240p", Width: 426, Height: 240, VideoBitrate: 300_000}}
	out := filepath.Join(t.TempDir(), "out")
	res, err := tools.Transcode(context.Background(), fixture("hlg.mp4"), out, m, ladder, Options{Preset: "ultrafast"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := tools.hasFilters(context.Background(), "zscale", "tonemap"); !ok {
		if res.ToneMapped {
			t.Fatal("tone mapped without zscale")
		}
		t.Skip("this ffmpeg build has no zscale/tonemap; HDR passes through untouched")
	}
	var doc struct {
		Streams []struct {
			Width, Height  int
			PixFmt         string `json:"pix_fmt"`
			ColorTransfer  string `json:"color_transfer"`
			ColorPrimaries string `json:"color_primaries"`
		} `json:"streams"`
	}
	ffprobeJSON(t, &doc, "-show_streams", filepath.Join(out, res.Rungs[0].MediaFile))
	s := doc.Streams[0]
	if !res.ToneMapped || s.PixFmt != "yuv420p" || s.ColorTransfer != "bt709" || s.ColorPrimaries != "bt709" || s.Width != 426 || s.Height != 240 {
		t.Fatalf("tone mapped %v, output %+v", res.ToneMapped, s)
	}
	f, err := os.Open(filepath.Join(out, res.Cover))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cover, err := jpeg.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := cover.Bounds(); b.Dx() != 426 || b.Dy() != 240 {
		t.Errorf("cover %v, want the top rung's size", b)
	}
	if st := measureLuma(cover); !st.usable() {
		t.Errorf("tone-mapped cover luma %+v", st)
	}
}

func TestTranscodeTruncatedSource(t *testing.T) {
	// Probe reads the intact index of a cut faststart MP4; Validate would refuse it, but even
	// a caller that skipped Validate gets corrupt, from the encoded length.
	m, err := tools.Probe(context.Background(), fixture("faststart-cut.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	ladder, _ := PlanLadder(m, DefaultLadder())
	_, err = tools.Transcode(context.Background(), fixture("faststart-cut.mp4"), filepath.Join(t.TempDir(), "o"), m, ladder, Options{Preset: "ultrafast"}, nil)
	if !vodfc.IsCode(err, CodeCorrupt) {
		t.Fatalf("got %v, want %s", err, CodeCorrupt)
	}
}

// longJob is the 40-second fixture with a slow preset: it runs long enough to be stopped.
func longJob(t *testing.T) (*Media, []Rung) {
	m := probeOK(t, "long.mp4")
	ladder, err := PlanLadder(m, DefaultLadder())
	if err != nil {
		t.Fatal(err)
	}
	return m, ladder
}

func TestTranscodeCancelKillsFFmpeg(t *testing.T) {
	m, ladder := longJob(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sawRunning bool
	done := make(chan error, 1)
	go func() {
		_, err := tools.Transcode(ctx, fixture("long.mp4"), filepath.Join(t.TempDir(), "o"), m, ladder,
			Options{Preset: "veryslow", ProgressInterval: 100 * time.Millisecond}, func(p Progress) {
				if !sawRunning {
					sawRunning = len(children(t)) > 0
				}
				cancel() // ffmpeg is demonstrably running: stop it
			})
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(3 * time.Minute): // hang guard only
		t.Fatal("Transcode did not return after cancel")
	}
	if !sawRunning {
		t.Error("no ffmpeg child seen while running")
	}
	if !vodfc.IsKind(err, vodfc.KindUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled transcode: %v", err)
	}
	if kids := children(t); len(kids) != 0 {
		t.Fatalf("processes left behind (zombies or orphans): %v", kids)
	}
}

func TestTranscodeTimeout(t *testing.T) {
	m, ladder := longJob(t)
	slow := tools
	slow.TranscodeTimeout = 300 * time.Millisecond
	_, err := slow.Transcode(context.Background(), fixture("long.mp4"), filepath.Join(t.TempDir(), "o"), m, ladder, Options{Preset: "veryslow"}, nil)
	if !vodfc.IsCode(err, "transcode_timeout") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timed-out transcode: %v", err)
	}
	if kids := children(t); len(kids) != 0 {
		t.Fatalf("processes left behind: %v", kids)
	}
}

func TestTranscodeOutputBudget(t *testing.T) {
	m, ladder := longJob(t)
	_, err := tools.Transcode(context.Background(), fixture("long.mp4"), filepath.Join(t.TempDir(), "o"), m, ladder,
		Options{Preset: "veryslow", MaxOutputBytes: 20 << 10, ProgressInterval: 100 * time.Millisecond}, nil)
	if !vodfc.IsCode(err, CodeTooLarge) {
		t.Fatalf("runaway output: %v", err)
	}
}

func TestTranscodeRefusesBadJobs(t *testing.T) {
	m := probeOK(t, "silent.mp4")
	out := t.TempDir()
	ok := []Rung{{Name: "180p", Width: 320, Height: 180, VideoBitrate: 200_000, AudioBitrate: 64_000}}
	bad := map[string]struct {
		ladder []Rung
		opts   Options
		dir    string
	}{
		"above source": {[]Rung{{Name: "x", Width: 640, Height: 360, VideoBitrate: 1, AudioBitrate: 1}}, Options{}, ""},
		"odd size":     {[]Rung{{Name: "x", Width: 319, Height: 180, VideoBitrate: 200_000}}, Options{}, ""},
		"path name":    {[]Rung{{Name: "../x", Width: 320, Height: 180, VideoBitrate: 200_000}}, Options{}, ""},
		"empty ladder": {nil, Options{}, ""},
		"segment":      {ok, Options{SegmentDuration: 3 * time.Second}, ""},
		"preset":       {ok, Options{Preset: "; rm -rf /"}, ""},
		"dirty outdir": {ok, Options{}, out},
		"pattern dir":  {ok, Options{}, filepath.Join(t.TempDir(), "job%03d")},
	}
	if err := os.WriteFile(filepath.Join(out, "old"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, c := range bad {
		dir := c.dir
		if dir == "" {
			dir = filepath.Join(t.TempDir(), "o")
		}
		_, err := tools.Transcode(context.Background(), fixture("silent.mp4"), dir, m, c.ladder, c.opts, nil)
		if !vodfc.IsKind(err, vodfc.KindInternal) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestStoryboardCues(t *testing.T) {
	sb := &Storyboard{Images: []string{"s-0.jpg", "s-1.jpg"}, Count: 13, Interval: 2 * time.Second, Duration: 25500 * time.Millisecond,
		TileWidth: 160, TileHeight: 90, Columns: 5, Rows: 2}
	cues := sb.Cues()
	if len(cues) != 13 {
		t.Fatal(len(cues))
	}
	c := cues[11] // second image, tile 1: column 1, row 0
	if c.Image != "s-1.jpg" || c.X != 160 || c.Y != 0 || c.Start != 22*time.Second || c.End != 24*time.Second {
		t.Errorf("cue 11 %+v", c)
	}
	c = cues[7] // first image, column 2, row 1
	if c.Image != "s-0.jpg" || c.X != 320 || c.Y != 90 {
		t.Errorf("cue 7 %+v", c)
	}
	if last := cues[12]; last.End != sb.Duration {
		t.Errorf("last cue %+v", last)
	}
	var b bytes.Buffer
	if err := sb.WriteVTT(&b, func(n string) string { return "https://cdn/" + n + "?sig=" + strconv.Itoa(len(n)) }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "00:00:24.000 --> 00:00:25.500\nhttps://cdn/s-1.jpg?sig=7#xywh=320,0,160,90\n") {
		t.Errorf("vtt:\n%s", b.String())
	}
	if err := sb.WriteVTT(&b, func(string) string { return "a\n\nb" }); err == nil {
		t.Error("line break in URL accepted")
	}
}

func TestTranscodeAlreadyCancelled(t *testing.T) {
	m := probeOK(t, "silent.mp4")
	ladder, _ := PlanLadder(m, DefaultLadder())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := tools.Transcode(ctx, fixture("silent.mp4"), filepath.Join(t.TempDir(), "o"), m, ladder, Options{}, nil)
	if !vodfc.IsKind(err, vodfc.KindUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestThrottle(t *testing.T) {
	var got []Progress
	f := Throttle(time.Hour, func(p Progress) { got = append(got, p) })
	f(Progress{Percent: 1})
	f(Progress{Percent: 2})
	f(Progress{Percent: 3})
	f(Progress{Percent: 100, Done: true})
	if len(got) != 2 || got[0].Percent != 1 || !got[1].Done {
		t.Fatalf("forwarded %+v", got)
	}
	got = nil
	f = Throttle(0, func(p Progress) { got = append(got, p) })
	f(Progress{Percent: 1})
	f(Progress{Percent: 2})
	if len(got) != 2 {
		t.Fatalf("zero interval forwarded %+v", got)
	}
}

func TestReadProgress(t *testing.T) {
	stream := strings.Join([]string{
		"frame=0", "out_time_us=N/A", "speed=N/A", "progress=continue",
		"out_time_us=2500000", "speed=1.25x", "progress=continue",
		"out_time_us=2400000", "progress=continue", // jitter backwards: must not fall
		"garbage line",
		"out_time_us=10100000", "speed=2x", "progress=end", // past the duration: capped below 100
	}, "\n")
	var got []Progress
	readProgress(strings.NewReader(stream), 10*time.Second, func(p Progress) { got = append(got, p) })
	if len(got) != 4 {
		t.Fatalf("%d reports: %+v", len(got), got)
	}
	want := []float64{0, 25, 25, 99}
	for i, p := range got {
		if p.Percent != want[i] || p.Done || p.Duration != 10*time.Second {
			t.Errorf("report %d: %+v, want %v%%", i, p, want[i])
		}
	}
	if got[1].Speed != 1.25 || got[1].Processed != 2500*time.Millisecond {
		t.Errorf("report 1: %+v", got[1])
	}
}
