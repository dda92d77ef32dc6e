package ossemu_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// TestFFmpegReadsHLSThroughPresignedURLs plays an fMP4 HLS rendition (one file, byte ranges)
// stored in OSS through presigned URLs, as the playback function hands them out: ffmpeg fetches
// the playlist, then the init section and segments with Range requests on signed URLs.
func TestFFmpegReadsHLSThroughPresignedURLs(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	ffprobe, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Skip("ffprobe not installed")
	}
	tg := tgt(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc=duration=4:size=160x120:rate=10",
		"-c:v", "libx264", "-g", "20", "-keyint_min", "20", "-sc_threshold", "0", "-hls_time", "2",
		"-hls_segment_type", "fmp4", "-hls_flags", "single_file", "-hls_playlist_type", "vod", filepath.Join(dir, "720p.m3u8"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("this ffmpeg cannot encode the fixture: %v %s", err, out)
	}
	playlist, err := os.ReadFile(filepath.Join(dir, "720p.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	for name, opts := range map[string][]oss.ClientOption{"v1": nil, "v4": {v4()}} {
		t.Run(name, func(t *testing.T) {
			b := tg.bkt(t, opts...)
			media := tg.key("hls-" + name + "/媒体 1/720p.m4s")
			if err := b.PutObjectFromFile(media, filepath.Join(dir, "720p.m4s")); err != nil {
				t.Fatal(err)
			}
			mediaURL, err := b.SignURL(media, oss.HTTPGet, 600)
			if err != nil {
				t.Fatal(err)
			}
			signed := strings.ReplaceAll(string(playlist), "720p.m4s", mediaURL)
			key := tg.key("hls-" + name + "/媒体 1/720p.m3u8")
			put(t, b, key, []byte(signed), oss.ContentType("application/x-mpegURL"))
			plURL, err := b.SignURL(key, oss.HTTPGet, 600)
			if err != nil {
				t.Fatal(err)
			}
			out, err := exec.CommandContext(ctx, ffprobe, "-v", "error", "-count_frames", "-select_streams", "v:0",
				"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", plURL).CombinedOutput()
			if err != nil {
				t.Fatalf("ffprobe over presigned URLs: %v\n%s", err, out)
			}
			// ffprobe prints the count once per program and once for the stream.
			counts := strings.Fields(string(out))
			if len(counts) == 0 {
				t.Fatalf("ffprobe printed no frame count: %q", out)
			}
			for _, n := range counts {
				if n != "40" {
					t.Fatalf("ffprobe read %q frames, want 40", out)
				}
			}
		})
	}
}
