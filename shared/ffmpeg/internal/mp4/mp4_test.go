package mp4

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// encode makes a small fragmented MP4 (moov first) with the real ffmpeg.
func encode(t *testing.T, args ...string) []byte {
	t.Helper()
	bin := os.Getenv("FFMPEG_PATH")
	if bin == "" {
		bin = "ffmpeg"
	}
	out := filepath.Join(t.TempDir(), "x.mp4")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []string{"-hide_banner", "-nostdin", "-v", "error",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine=sample_rate=44100", "-t", "0.5"}
	args = append(append(base, args...), "-movflags", "+frag_keyframe+empty_moov+default_base_moof", out)
	if b, err := exec.CommandContext(ctx, bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestReadInitFromRealEncodes(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		video    string
		audio    string
		sampleHz int
	}{
		// High profile has no constraint flags set: 0x64 0x00 level 3.0 (0x1e).
		{"high", []string{"-c:v", "libx264", "-profile:v", "high", "-level", "3.0", "-c:a", "aac", "-ac", "2"},
			"avc1.64001e", "mp4a.40.2", 44100},
		// x264 marks baseline as constrained baseline (constraint_set0+1 = 0xc0): the flags byte
		// must come from the stream, not be assumed.
		{"baseline", []string{"-c:v", "libx264", "-profile:v", "baseline", "-level", "2.1", "-c:a", "aac", "-profile:a", "aac_ltp", "-strict", "-2", "-ac", "1", "-ar", "22050"},
			"avc1.42c015", "mp4a.40.4", 22050},
		// Main profile: x264 sets constraint_set1 (0x40). MP3 in MP4 is object type 0x6B and
		// has no audio object type.
		{"mp3", []string{"-c:v", "libx264", "-profile:v", "main", "-level", "4.0", "-c:a", "libmp3lame", "-ac", "2"},
			"avc1.4d4028", "mp4a.6B", 44100},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tracks, err := ReadInit(encode(t, c.args...))
			if err != nil {
				t.Fatal(err)
			}
			if len(tracks) != 2 {
				t.Fatalf("%d tracks", len(tracks))
			}
			v, a := tracks[0], tracks[1]
			if v.Handler != "vide" || v.Codec != c.video || v.Width != 320 || v.Height != 180 {
				t.Errorf("video %+v, want codec %s 320x180", v, c.video)
			}
			if a.Handler != "soun" || a.Codec != c.audio || a.SampleRate != c.sampleHz {
				t.Errorf("audio %+v, want %s %d Hz", a, c.audio, c.sampleHz)
			}
		})
	}
}

func TestAudioObjectTypeEscape(t *testing.T) {
	// AudioSpecificConfig with audioObjectType 31 (escape) followed by 6 bits = 10 -> 42 (USAC).
	asc := []byte{31<<3 | 10>>3, (10 & 0x07) << 5, 0}
	dcd := append([]byte{0x40, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, append([]byte{0x05, byte(len(asc))}, asc...)...)
	es := append([]byte{0, 1, 0}, append([]byte{0x04, byte(len(dcd))}, dcd...)...)
	esds := append([]byte{0, 0, 0, 0}, append([]byte{0x03, 0x80, 0x80, byte(len(es))}, es...)...)
	codec, err := esdsCodec(esds)
	if err != nil {
		t.Fatal(err)
	}
	if codec != "mp4a.40.42" {
		t.Fatalf("codec %s", codec)
	}
}

func TestMalformed(t *testing.T) {
	cases := map[string][]byte{
		"empty":          nil,
		"no moov":        {0, 0, 0, 8, 'f', 't', 'y', 'p'},
		"overrun":        {0, 0, 0, 100, 'm', 'o', 'o', 'v'},
		"tiny size":      {0, 0, 0, 4, 'm', 'o', 'o', 'v'},
		"moov no tracks": {0, 0, 0, 8, 'm', 'o', 'o', 'v'},
		"trak no mdia":   {0, 0, 0, 16, 'm', 'o', 'o', 'v', 0, 0, 0, 8, 't', 'r', 'a', 'k'},
	}
	for name, data := range cases {
		if _, err := ReadInit(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A real init segment cut anywhere must fail cleanly, never panic.
	data := encode(t, "-c:v", "libx264", "-c:a", "aac")
	for n := 0; n < 1500 && n < len(data); n += 7 {
		_, _ = ReadInit(data[:n])
	}
}
