package hls

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// ffmpegVariant is what ffmpeg 5.1's HLS muxer writes for fMP4 with -hls_flags single_file.
const ffmpegVariant = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="360p.mp4",BYTERANGE="1353@0"
#EXTINF:4.000000,
#EXT-X-BYTERANGE:203107@1353
360p.mp4
#EXTINF:4.000000,
#EXT-X-BYTERANGE:198000@204460
360p.mp4
#EXTINF:1.033333,
#EXT-X-BYTERANGE:110770@402460
360p.mp4
#EXT-X-ENDLIST
`

func TestParseMediaFFmpegOutput(t *testing.T) {
	p, err := ParseMedia(strings.NewReader(ffmpegVariant))
	if err != nil {
		t.Fatal(err)
	}
	want := &Media{
		Version: 7, TargetDuration: 4, PlaylistType: "VOD", IndependentSegments: true, EndList: true,
		Map: &Map{URI: "360p.mp4", ByteRange: &ByteRange{Length: 1353, Offset: 0}},
		Segments: []Segment{
			{Duration: 4 * time.Second, URI: "360p.mp4", ByteRange: &ByteRange{203107, 1353}},
			{Duration: 4 * time.Second, URI: "360p.mp4", ByteRange: &ByteRange{198000, 204460}},
			{Duration: 1033333 * time.Microsecond, URI: "360p.mp4", ByteRange: &ByteRange{110770, 402460}},
		},
	}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("got %+v\nwant %+v", p, want)
	}
	if d := p.Duration(); d != 9033333*time.Microsecond {
		t.Fatalf("duration %v", d)
	}
	// Round trip: our writer reproduces ffmpeg's text exactly.
	out, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != ffmpegVariant {
		t.Fatalf("round trip differs:\n%s", out)
	}
}

func TestImplicitOffsetsBecomeExplicit(t *testing.T) {
	in := "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI=\"a.mp4\",BYTERANGE=\"100\"\n" +
		"#EXTINF:4,\n#EXT-X-BYTERANGE:50@100\na.mp4\n" +
		"#EXTINF:4,\n#EXT-X-BYTERANGE:70\na.mp4\n" +
		"#EXTINF:2.5,\n#EXT-X-BYTERANGE:30\na.mp4\n#EXT-X-ENDLIST\n"
	p, err := ParseMedia(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if *p.Map.ByteRange != (ByteRange{100, 0}) {
		t.Fatalf("map range %+v", p.Map.ByteRange)
	}
	got := []ByteRange{*p.Segments[0].ByteRange, *p.Segments[1].ByteRange, *p.Segments[2].ByteRange}
	want := []ByteRange{{50, 100}, {70, 150}, {30, 220}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ranges %v, want %v", got, want)
	}
	if err := p.RewriteURIs(func(u string) (string, error) { return "https://cdn/x?sig=1&u=" + u, nil }); err != nil {
		t.Fatal(err)
	}
	out, _ := p.Encode()
	for _, line := range []string{"#EXT-X-BYTERANGE:70@150", "#EXT-X-BYTERANGE:30@220", `BYTERANGE="100@0"`} {
		if !strings.Contains(string(out), line) {
			t.Errorf("encoded playlist lacks %q:\n%s", line, out)
		}
	}
	// Implicit offset across different resources is meaningless: refuse.
	bad := "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n#EXT-X-BYTERANGE:50@0\na.mp4\n#EXTINF:4,\n#EXT-X-BYTERANGE:70\nb.mp4\n"
	if _, err := ParseMedia(strings.NewReader(bad)); err == nil {
		t.Fatal("implicit offset into another resource accepted")
	}
}

func TestRewriteURIsSignsEachResourceOnce(t *testing.T) {
	p, err := ParseMedia(strings.NewReader(ffmpegVariant))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	err = p.RewriteURIs(func(u string) (string, error) {
		calls++
		return "https://oss.example/media/v1/0/" + u + "?Signature=abc", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Fatalf("signer called %d times for one resource", calls)
	}
	if p.Map.URI != "https://oss.example/media/v1/0/360p.mp4?Signature=abc" || p.Segments[2].URI != p.Map.URI {
		t.Fatalf("not rewritten: %+v", p)
	}
	boom := errors.New("boom")
	if err := p.RewriteURIs(func(string) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatalf("signer error lost: %v", err)
	}
	if err := p.RewriteURIs(func(string) (string, error) { return "a\n#EXT-X-ENDLIST", nil }); err == nil {
		t.Fatal("a URI with a line break was accepted")
	}
}

func TestBandwidth(t *testing.T) {
	p, err := ParseMedia(strings.NewReader(ffmpegVariant))
	if err != nil {
		t.Fatal(err)
	}
	peak, avg, err := p.Bandwidth()
	if err != nil {
		t.Fatal(err)
	}
	// Peak: 110770 bytes in 1.033333 s = 857574.7 b/s, above 203107*8/4 = 406214.
	if peak != 857575 {
		t.Fatalf("peak %d", peak)
	}
	// Average: (203107+198000+110770)*8 / 9.033333 = 453321.0...
	if avg < 453320 || avg > 453323 {
		t.Fatalf("average %d", avg)
	}
	p.Segments[1].ByteRange = nil
	if _, _, err := p.Bandwidth(); err == nil {
		t.Fatal("bandwidth without byte ranges accepted")
	}
}

func TestMasterRoundTrip(t *testing.T) {
	m := &Master{IndependentSegments: true, Variants: []Variant{
		{URI: "1080p.m3u8", Bandwidth: 6500000, AverageBandwidth: 5200000, Codecs: []string{"avc1.640028", "mp4a.40.2"}, Width: 1920, Height: 1080, FrameRate: 30000.0 / 1001},
		{URI: "https://x/360p.m3u8?a=1,2", Bandwidth: 600000, Codecs: []string{"avc1.64001e"}, Width: 640, Height: 360, FrameRate: 30},
	}}
	out, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=6500000,AVERAGE-BANDWIDTH=5200000,CODECS="avc1.640028,mp4a.40.2",RESOLUTION=1920x1080,FRAME-RATE=29.970
1080p.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=600000,CODECS="avc1.64001e",RESOLUTION=640x360,FRAME-RATE=30.000
https://x/360p.m3u8?a=1,2
`
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	back, err := ParseMaster(strings.NewReader(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Variants) != 2 || back.Variants[0].FrameRate != 29.97 || back.Variants[1].URI != "https://x/360p.m3u8?a=1,2" ||
		!reflect.DeepEqual(back.Variants[0].Codecs, []string{"avc1.640028", "mp4a.40.2"}) || back.Variants[0].Width != 1920 {
		t.Fatalf("parsed back %+v", back)
	}
}

func TestParseRejects(t *testing.T) {
	media := map[string]string{
		"not a playlist":       "hello\n",
		"empty":                "",
		"uri without extinf":   "#EXTM3U\n#EXT-X-TARGETDURATION:4\na.mp4\n",
		"negative duration":    "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:-1,\na.mp4\n",
		"nan duration":         "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:NaN,\na.mp4\n",
		"bad byterange":        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n#EXT-X-BYTERANGE:x@1\na.mp4\n",
		"unknown tag":          "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n#EXTINF:4,\na.mp4\n",
		"master tag":           "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n",
		"dangling tags":        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n",
		"no target":            "#EXTM3U\n#EXTINF:4,\na.mp4\n",
		"second map":           "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.mp4\n#EXT-X-MAP:URI=\"b\"\n",
		"unterminated quote":   "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI=\"a.mp4\n",
		"first range implicit": "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n#EXT-X-BYTERANGE:5\na.mp4\n",
	}
	for name, in := range media {
		if _, err := ParseMedia(strings.NewReader(in)); err == nil {
			t.Errorf("media %s: accepted", name)
		}
	}
	master := map[string]string{
		"no bandwidth":  "#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=1x1\na.m3u8\n",
		"bad res":       "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1y1\na.m3u8\n",
		"audio groups":  "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\na.m3u8\n",
		"no uri":        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n",
		"media in mstr": "#EXTM3U\n#EXTINF:4,\na.mp4\n",
	}
	for name, in := range master {
		if _, err := ParseMaster(strings.NewReader(in)); err == nil {
			t.Errorf("master %s: accepted", name)
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	cases := map[string]*Media{
		"long segment": {TargetDuration: 4, Segments: []Segment{{Duration: 5 * time.Second, URI: "a"}}},
		"empty uri":    {Segments: []Segment{{Duration: time.Second}}},
		"zero length":  {Segments: []Segment{{Duration: time.Second, URI: "a", ByteRange: &ByteRange{0, 0}}}},
		"bad type":     {PlaylistType: "LIVE", Segments: []Segment{{Duration: time.Second, URI: "a"}}},
	}
	for name, p := range cases {
		if _, err := p.Encode(); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
	// A zero target duration is computed: 4.4 s rounds to 4.
	p := &Media{Segments: []Segment{{Duration: 4400 * time.Millisecond, URI: "a"}, {Duration: 2 * time.Second, URI: "a"}}}
	out, err := p.Encode()
	if err != nil || !strings.Contains(string(out), "#EXT-X-TARGETDURATION:4\n") {
		t.Fatalf("computed target: %v\n%s", err, out)
	}
	if _, err := (&Master{Variants: []Variant{{URI: "a"}}}).Encode(); err == nil {
		t.Error("variant without bandwidth encoded")
	}
}

func TestByteRangeHTTP(t *testing.T) {
	if got := (ByteRange{Length: 100, Offset: 1353}).HTTPRange(); got != "bytes=1353-1452" {
		t.Fatal(got)
	}
}
