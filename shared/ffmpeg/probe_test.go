package ffmpeg

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"vodfc.dev/vodfc"
)

func probeOK(t *testing.T, name string) *Media {
	t.Helper()
	m, err := tools.Probe(context.Background(), fixture(name))
	if err != nil {
		t.Fatalf("probe %s: %v", name, err)
	}
	if err := Validate(m, DefaultLimits()); err != nil {
		t.Fatalf("validate %s: %v", name, err)
	}
	return m
}

func TestProbeFacts(t *testing.T) {
	m := probeOK(t, "main.mp4")
	if m.Width != 640 || m.Height != 360 || m.VideoCodec != "h264" || !m.HasAudio || m.AudioCodec != "aac" ||
		m.FrameRate != (Rational{30, 1}) || m.Rotation != 0 || m.VideoStreams != 1 || m.AudioStreams != 1 || m.VariableFrameRate {
		t.Errorf("main: %+v", m)
	}
	if m.Duration < 5900*time.Millisecond || m.Duration > 6100*time.Millisecond {
		t.Errorf("main duration %v", m.Duration)
	}
	if m.Bitrate <= 0 || m.VideoBitrate <= 0 || m.AudioBitrate <= 0 || m.Format != "mov,mp4,m4a,3gp,3g2,mj2" {
		t.Errorf("main rates/format: %+v", m)
	}

	r := probeOK(t, "rotated.mp4")
	if r.Rotation != 90 || r.Width != 360 || r.Height != 640 || r.CodedWidth != 640 || r.CodedHeight != 360 {
		t.Errorf("rotated: rotation %d display %dx%d coded %dx%d", r.Rotation, r.Width, r.Height, r.CodedWidth, r.CodedHeight)
	}
	v := probeOK(t, "vfr.mp4")
	if !v.VariableFrameRate || v.FrameRate != (Rational{30, 1}) {
		t.Errorf("vfr: %+v", v)
	}
	s := probeOK(t, "silent.mp4")
	if s.HasAudio || s.AudioStreams != 0 {
		t.Errorf("silent: %+v", s)
	}
}

// TestRefusals feeds every broken and hostile class through Probe and Validate and checks
// the code each one ends with.
func TestRefusals(t *testing.T) {
	short := DefaultLimits()
	short.MaxDuration = 3 * time.Second
	cases := []struct {
		file   string
		limits Limits
		code   string
	}{
		{"text.mp4", DefaultLimits(), CodeNotAVideo},
		{"zero.mp4", DefaultLimits(), CodeNotAVideo},
		{"concat.mp4", DefaultLimits(), CodeNotAVideo},
		{"picture.mp4", DefaultLimits(), CodeNotAVideo},
		{"audio.mp4", DefaultLimits(), CodeNotAVideo},
		{"tiny.mp4", DefaultLimits(), CodeNotAVideo},
		{"moovlast-cut.mp4", DefaultLimits(), CodeCorrupt},
		{"faststart-cut.mp4", DefaultLimits(), CodeCorrupt},
		{"twovideo.mkv", DefaultLimits(), CodeUnsupportedCodec},
		{"theora.mkv", DefaultLimits(), CodeUnsupportedCodec},
		{"wide.mp4", DefaultLimits(), CodeTooLarge},
		{"main.mp4", short, CodeTooLong},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			m, err := tools.Probe(context.Background(), fixture(c.file))
			if err == nil {
				err = Validate(m, c.limits)
			}
			var e *vodfc.Error
			if !errors.As(err, &e) || e.Kind != vodfc.KindInvalid || e.Code != c.code {
				t.Fatalf("got %v, want kind Invalid code %s", err, c.code)
			}
			if e.Message == "" || strings.Contains(e.Message, fixtures) {
				t.Errorf("message %q should be user-safe", e.Message)
			}
		})
	}
}

// TestHostilePlaylist: an HLS playlist uploaded as .mp4 that points at a URL and at a local
// file must be refused by both ffprobe and ffmpeg without making the request or opening the
// file. The HTTP server counts hits; inotify (Linux) sees every open of the secret file.
func TestHostilePlaylist(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "no", http.StatusNotFound)
	}))
	defer srv.Close()

	dir := t.TempDir()
	secret := filepath.Join(dir, "secret.txt")
	const secretText = "TOP-SECRET-CONTENT-4711"
	if err := os.WriteFile(secret, []byte(secretText), 0o600); err != nil {
		t.Fatal(err)
	}
	evil := filepath.Join(dir, "upload.mp4")
	playlist := fmt.Sprintf("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n"+
		"#EXTINF:10,\n%s/segment.ts\n#EXTINF:10,\n%s\n#EXTINF:10,\nfile://%s\n#EXT-X-ENDLIST\n", srv.URL, secret, secret)
	if err := os.WriteFile(evil, []byte(playlist), 0o644); err != nil {
		t.Fatal(err)
	}
	// The instrument works: reading the file is seen.
	probe := watchOpens(t, secret)
	if _, err := os.ReadFile(secret); err != nil || probe() == 0 {
		t.Fatalf("inotify does not see opens (%v)", err)
	}
	opened := watchOpens(t, secret)

	_, err := tools.Probe(context.Background(), evil)
	if !vodfc.IsCode(err, CodeNotAVideo) {
		t.Fatalf("probe: %v, want %s", err, CodeNotAVideo)
	}
	if strings.Contains(err.Error(), secretText) {
		t.Fatal("the secret file's content leaked into the error")
	}

	// Even if a caller skipped Probe, ffmpeg itself refuses the playlist.
	fake := &Media{Width: 640, Height: 360, Duration: 30 * time.Second, FPS: 30, FrameRate: Rational{30, 1}}
	out := filepath.Join(dir, "out")
	_, err = tools.Transcode(context.Background(), evil, out, fake,
		[]Rung{{Name: "360p", Width: 640, Height: 360, VideoBitrate: 500_000, AudioBitrate: 64_000}}, Options{Preset: "ultrafast"}, nil)
	if !vodfc.IsCode(err, CodeNotAVideo) {
		t.Fatalf("transcode: %v, want %s", err, CodeNotAVideo)
	}
	if strings.Contains(err.Error(), secretText) {
		t.Fatal("the secret file's content leaked into the error")
	}
	_ = filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), secretText) {
				t.Errorf("secret content in output %s", p)
			}
		}
		return nil
	})
	if n := hits.Load(); n != 0 {
		t.Fatalf("the playlist's URL was requested %d times", n)
	}
	if n := opened(); n != 0 {
		t.Fatalf("the secret file was opened %d times", n)
	}
}

func TestProbeTimeoutAndCancel(t *testing.T) {
	// A parent context that is already over is the caller's business: Unavailable.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := tools.Probe(ctx, fixture("main.mp4"))
	if !vodfc.IsKind(err, vodfc.KindUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled probe: %v", err)
	}
	// Our own probe timeout running out means the file is pathological: corrupt.
	slow := tools
	slow.ProbeTimeout = time.Nanosecond
	_, err = slow.Probe(context.Background(), fixture("main.mp4"))
	if !vodfc.IsCode(err, CodeCorrupt) {
		t.Fatalf("timed-out probe: %v", err)
	}
	if kids := children(t); len(kids) != 0 {
		t.Fatalf("processes left behind: %v", kids)
	}
}

func TestProbeMissingFileIsInternal(t *testing.T) {
	_, err := tools.Probe(context.Background(), filepath.Join(t.TempDir(), "nope.mp4"))
	if !vodfc.IsKind(err, vodfc.KindInternal) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestValidateTable(t *testing.T) {
	good := Media{VideoStreams: 1, AudioStreams: 1, HasAudio: true, VideoCodec: "h264", AudioCodec: "aac",
		Width: 1920, Height: 1080, Duration: time.Minute, FPS: 30, Bitrate: 5_000_000, Size: 37_500_000}
	if err := Validate(&good, DefaultLimits()); err != nil {
		t.Fatalf("good media refused: %v", err)
	}
	cases := []struct {
		name string
		edit func(*Media)
		code string
	}{
		{"no video", func(m *Media) { m.VideoStreams = 0 }, CodeNotAVideo},
		{"two audio", func(m *Media) { m.AudioStreams = 2 }, CodeUnsupportedCodec},
		{"video codec", func(m *Media) { m.VideoCodec = "cinepak" }, CodeUnsupportedCodec},
		{"audio codec", func(m *Media) { m.AudioCodec = "dts" }, CodeUnsupportedCodec},
		{"too wide", func(m *Media) { m.Width = 4097 }, CodeTooLarge},
		{"portrait 4096 high ok", func(m *Media) { m.Width, m.Height = 2304, 4096 }, ""},
		{"too tall", func(m *Media) { m.Width, m.Height = 2304, 4098 }, CodeTooLarge},
		{"too small", func(m *Media) { m.Height = 63 }, CodeNotAVideo},
		{"zero duration", func(m *Media) { m.Duration = 0 }, CodeCorrupt},
		{"too long", func(m *Media) { m.Duration = 5 * time.Hour; m.Bitrate = 2000 }, CodeTooLong},
		{"fps high", func(m *Media) { m.FPS = 240 }, CodeUnsupportedCodec},
		{"fps low", func(m *Media) { m.FPS = 0.5 }, CodeUnsupportedCodec},
		{"fps unknown", func(m *Media) { m.FPS = 0 }, CodeCorrupt},
		{"bitrate", func(m *Media) { m.Bitrate = 300_000_000 }, CodeTooLarge},
		{"duration lie", func(m *Media) { m.Bitrate = 500 }, CodeCorrupt},
		{"size", func(m *Media) { m.Size = 1 << 40 }, ""},
		{"truncated", func(m *Media) { m.DeclaredSize = 3 * m.Size }, CodeCorrupt},
		{"rounding slack", func(m *Media) { m.DeclaredSize = m.Size + m.Size/10 }, ""},
	}
	for _, c := range cases {
		m := good
		c.edit(&m)
		err := Validate(&m, DefaultLimits())
		if c.code == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if !vodfc.IsCode(err, c.code) || !vodfc.IsKind(err, vodfc.KindInvalid) {
			t.Errorf("%s: got %v, want %s", c.name, err, c.code)
		}
	}
	l := DefaultLimits()
	l.MaxSize = 1000
	if err := Validate(&good, l); !vodfc.IsCode(err, CodeTooLarge) {
		t.Errorf("max size: %v", err)
	}
}

func TestFrameRateChoice(t *testing.T) {
	cases := []struct {
		r, avg string
		want   Rational
		vfr    bool
	}{
		{"30/1", "30/1", Rational{30, 1}, false},
		{"30000/1001", "30000/1001", Rational{30000, 1001}, false},
		{"30/1", "780/59", Rational{30, 1}, true},          // phone VFR: the capture rate
		{"90000/1", "2997/100", Rational{2997, 100}, true}, // nonsense r: the average
		{"0/0", "25/1", Rational{25, 1}, false},
		{"0/0", "0/0", Rational{}, false},
	}
	for _, c := range cases {
		got, vfr := frameRate(c.r, c.avg)
		if got != c.want || vfr != c.vfr {
			t.Errorf("frameRate(%s, %s) = %v %v, want %v %v", c.r, c.avg, got, vfr, c.want, c.vfr)
		}
	}
	out := []struct {
		in   Rational
		max  float64
		want Rational
	}{
		{Rational{2997, 100}, 60, Rational{30000, 1001}},
		{Rational{30, 1}, 60, Rational{30, 1}},
		{Rational{120, 1}, 60, Rational{60, 1}},
		{Rational{60000, 1001}, 30, Rational{30000, 1001}},
		{Rational{780, 59}, 60, Rational{13, 1}},
		{Rational{25, 2}, 60, Rational{25, 2}},
	}
	for _, c := range out {
		if got := outputRate(c.in, c.in.Float(), c.max); got != c.want {
			t.Errorf("outputRate(%v, max %g) = %v, want %v", c.in, c.max, got, c.want)
		}
	}
}

func TestFromEnvAndVersion(t *testing.T) {
	t.Setenv("FFMPEG_PATH", filepath.Join(t.TempDir(), "no-such-ffmpeg"))
	if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), "FFMPEG_PATH") {
		t.Fatalf("missing FFMPEG_PATH binary: %v", err)
	}
	t.Setenv("FFMPEG_PATH", tools.FFmpeg)
	t.Setenv("FFPROBE_PATH", tools.FFprobe)
	got, err := FromEnv()
	if err != nil || got.FFmpeg != tools.FFmpeg || got.FFprobe != tools.FFprobe {
		t.Fatalf("FromEnv = %+v, %v", got, err)
	}
	v, err := got.Version(context.Background())
	if err != nil || !strings.HasPrefix(v, "ffmpeg version ") {
		t.Fatalf("version %q: %v", v, err)
	}
}

func TestDisplayGeometry(t *testing.T) {
	cases := []struct {
		w, h int
		sar  string
		side []map[string]any
		tags map[string]string
		rot  int
		dw   int
		dh   int
	}{
		{1920, 1080, "1:1", nil, nil, 0, 1920, 1080},
		{1440, 1080, "4:3", nil, nil, 0, 1920, 1080},                                      // anamorphic HDV
		{720, 480, "32:27", nil, nil, 0, 853, 480},                                        // NTSC DVD 16:9
		{1920, 1080, "1:1", []map[string]any{{"rotation": -90.0}}, nil, 270, 1080, 1920},  // phone, ffprobe ≥ 5
		{1920, 1080, "0:1", []map[string]any{{"rotation": 180.0}}, nil, 180, 1920, 1080},  // upside down, unknown SAR
		{1920, 1080, "", nil, map[string]string{"rotate": "90"}, 90, 1080, 1920},          // ffprobe ≤ 4 tag
		{1920, 1080, "", []map[string]any{{"side_data_type": "CPB"}}, nil, 0, 1920, 1080}, // other side data
	}
	for _, c := range cases {
		s := &probeStream{Width: c.w, Height: c.h, SampleAspectRatio: c.sar, SideData: c.side, Tags: c.tags}
		rot := rotation(s)
		w, h := displaySize(c.w, c.h, c.sar, rot)
		if rot != c.rot || w != c.dw || h != c.dh {
			t.Errorf("%dx%d sar %s side %v tags %v: rotation %d display %dx%d, want %d %dx%d", c.w, c.h, c.sar, c.side, c.tags, rot, w, h, c.rot, c.dw, c.dh)
		}
	}
}
