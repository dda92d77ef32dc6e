package ffmpeg

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Every clip is generated once here with lavfi (nothing is downloaded) and shared by the
// tests. They are small and short so the package stays fast on two loaded cores.
var (
	tools    Tools
	fixtures string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	tools, err = FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ffmpeg tests need ffmpeg and ffprobe:", err)
		return 1
	}
	fixtures, err = os.MkdirTemp("", "vodfc-ffmpeg-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(fixtures)
	if err := makeFixtures(); err != nil {
		fmt.Fprintln(os.Stderr, "fixtures:", err)
		return 1
	}
	return m.Run()
}

func fixture(name string) string { return filepath.Join(fixtures, name) }

func makeFixtures() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	enc := []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}
	aac := []string{"-c:a", "aac", "-b:a", "96k"}
	clips := []struct {
		name string
		args []string
	}{
		// 6 s landscape with sound; black until 2.5 s so a naive cover would be black.
		{"main.mp4", cat([]string{"-f", "lavfi", "-i", "testsrc2=s=640x360:r=30:d=6", "-f", "lavfi", "-i", "sine=f=440:r=48000:d=6",
			"-vf", "fade=t=in:st=2.5:d=0.2"}, enc, aac, []string{"-shortest"})},
		{"portrait.mp4", cat([]string{"-f", "lavfi", "-i", "testsrc2=s=360x640:r=30:d=2", "-f", "lavfi", "-i", "sine=r=44100:d=2"}, enc, aac, []string{"-shortest"})},
		{"land2s.mp4", cat([]string{"-f", "lavfi", "-i", "testsrc2=s=640x360:r=25:d=2", "-f", "lavfi", "-i", "sine=r=44100:d=2"}, enc, aac, []string{"-shortest"})},
		// Frames dropped irregularly with their timestamps kept: variable frame rate.
		{"vfr.mp4", cat([]string{"-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=4", "-f", "lavfi", "-i", "sine=d=4",
			"-vf", "select='not(mod(n,3))+eq(mod(n,7),1)'", "-fps_mode", "vfr"}, enc, aac, []string{"-shortest"})},
		{"silent.mp4", cat([]string{"-f", "lavfi", "-i", "testsrc2=s=320x180:r=30:d=2"}, enc)},
		{"long.mp4", cat([]string{"-f", "lavfi", "-i", "testsrc2=s=320x180:r=30:d=20"}, enc)},
		{"wide.mp4", cat([]string{"-f", "lavfi", "-i", "testsrc2=s=4104x64:r=10:d=0.5"}, enc)},
		{"tiny.mp4", cat([]string{"-f", "lavfi", "-i", "testsrc2=s=32x32:r=10:d=1"}, enc)},
		{"audio.mp4", cat([]string{"-f", "lavfi", "-i", "sine=d=1"}, aac)},
		{"picture.mp4", []string{"-f", "lavfi", "-i", "testsrc2=s=64x64", "-frames:v", "1", "-c:v", "png", "-f", "image2"}},
		{"twovideo.mkv", cat([]string{"-f", "lavfi", "-i", "testsrc2=s=160x120:d=1", "-f", "lavfi", "-i", "testsrc=s=160x120:d=1",
			"-map", "0", "-map", "1"}, enc)},
		{"theora.mkv", []string{"-f", "lavfi", "-i", "testsrc2=s=160x120:d=1", "-c:v", "libtheora"}},
		// HDR as phones record it: 10-bit HEVC, BT.2020 primaries, HLG transfer.
		{"hlg.mp4", []string{"-f", "lavfi", "-i", "testsrc2=s=640x360:r=30:d=2", "-vf", "format=yuv420p10le",
			"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error:colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc",
			"-color_primaries", "bt2020", "-color_trc", "arib-std-b67", "-colorspace", "bt2020nc"}},
		// moov at the end (the default): cut in half, the index is gone.
		{"moovlast.mp4", cat([]string{"-f", "lavfi", "-i", "testsrc2=s=320x180:r=30:d=4"}, enc)},
		{"faststart.mp4", cat([]string{"-f", "lavfi", "-i", "testsrc2=s=320x180:r=30:d=4", "-f", "lavfi", "-i", "sine=d=4"},
			enc, aac, []string{"-movflags", "+faststart", "-shortest"})},
	}
	// Two at a time: the machine has two cores.
	errs := make(chan error, len(clips))
	slots := make(chan struct{}, 2)
	for _, c := range clips {
		slots <- struct{}{}
		go func() {
			defer func() { <-slots }()
			args := append([]string{"-hide_banner", "-nostdin", "-v", "error", "-y"}, c.args...)
			args = append(args, fixture(c.name))
			if out, err := exec.CommandContext(ctx, tools.FFmpeg, args...).CombinedOutput(); err != nil {
				errs <- fmt.Errorf("%s: %v\n%s", c.name, err, out)
				return
			}
			errs <- nil
		}()
	}
	for range clips {
		if err := <-errs; err != nil {
			return err
		}
	}
	// Stream copy keeps the rotate tag, which 5.1's mov muxer turns into a display matrix.
	if out, err := exec.CommandContext(ctx, tools.FFmpeg, "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", fixture("land2s.mp4"),
		"-c", "copy", "-metadata:s:v:0", "rotate=90", fixture("rotated.mp4")).CombinedOutput(); err != nil {
		return fmt.Errorf("rotated.mp4: %v\n%s", err, out)
	}
	// Broken and hostile files.
	if err := truncate("moovlast.mp4", "moovlast-cut.mp4", 2); err != nil {
		return err
	}
	if err := truncate("faststart.mp4", "faststart-cut.mp4", 3); err != nil {
		return err
	}
	for name, content := range map[string]string{
		"text.mp4":   "Hello, this is not a video at all.\n",
		"zero.mp4":   "",
		"concat.mp4": "ffconcat version 1.0\nfile 'main.mp4'\n",
	} {
		if err := os.WriteFile(fixture(name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// truncate copies fixture src to dst keeping 1/div of it.
func truncate(src, dst string, div int) error {
	data, err := os.ReadFile(fixture(src))
	if err != nil {
		return err
	}
	return os.WriteFile(fixture(dst), data[:len(data)/div], 0o644)
}

func cat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// ffprobeJSON runs the real ffprobe on one of our outputs, for assertions.
func ffprobeJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, tools.FFprobe, append([]string{"-v", "error", "-of", "json"}, args...)...).Output()
	if err != nil {
		t.Fatalf("ffprobe %v: %v", args, err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatal(err)
	}
}

// children lists the processes whose parent is this test binary (zombies included).
func children(t *testing.T) []string {
	t.Helper()
	self := strconv.Itoa(os.Getpid())
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var kids []string
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // state ppid ...
		if len(f) > 1 && f[1] == self {
			kids = append(kids, s[:i+1]+" "+f[0])
		}
	}
	return kids
}
