package hls

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// DefaultVersion is written when a playlist's Version is 0: fMP4 segments (EXT-X-MAP without
// I-frames-only) need 6; ffmpeg writes 7 for the same playlists, and so do we.
const DefaultVersion = 7

// Encode renders the media playlist. It checks what would make the result invalid (empty or
// multi-line URIs, non-positive durations, a target duration below a segment's rounded
// duration) instead of writing it. TargetDuration 0 is computed from the segments.
func (p *Media) Encode() ([]byte, error) {
	target := p.TargetDuration
	var longest int
	for i, s := range p.Segments {
		if s.Duration <= 0 {
			return nil, fmt.Errorf("hls: segment %d has duration %v", i, s.Duration)
		}
		if err := checkURI(s.URI); err != nil {
			return nil, fmt.Errorf("hls: segment %d: %w", i, err)
		}
		if strings.ContainsAny(s.Title, "\r\n") {
			return nil, fmt.Errorf("hls: segment %d: title contains a line break", i)
		}
		if r := int(math.Round(s.Duration.Seconds())); r > longest {
			longest = r
		}
	}
	if target == 0 {
		target = max(longest, 1)
	}
	if longest > target {
		return nil, fmt.Errorf("hls: a segment lasts %ds, more than the target duration %ds", longest, target)
	}
	var b bytes.Buffer
	b.WriteString("#EXTM3U\n")
	fmt.Fprintf(&b, "#EXT-X-VERSION:%d\n", orDefault(p.Version, DefaultVersion))
	fmt.Fprintf(&b, "#EXT-X-TARGETDURATION:%d\n", target)
	fmt.Fprintf(&b, "#EXT-X-MEDIA-SEQUENCE:%d\n", p.MediaSequence)
	switch p.PlaylistType {
	case "":
	case "VOD", "EVENT":
		fmt.Fprintf(&b, "#EXT-X-PLAYLIST-TYPE:%s\n", p.PlaylistType)
	default:
		return nil, fmt.Errorf("hls: bad playlist type %q", p.PlaylistType)
	}
	if p.IndependentSegments {
		b.WriteString("#EXT-X-INDEPENDENT-SEGMENTS\n")
	}
	if p.Map != nil {
		if err := checkURI(p.Map.URI); err != nil {
			return nil, fmt.Errorf("hls: EXT-X-MAP: %w", err)
		}
		fmt.Fprintf(&b, "#EXT-X-MAP:URI=%s", quote(p.Map.URI))
		if p.Map.ByteRange != nil {
			if err := checkRange(*p.Map.ByteRange); err != nil {
				return nil, fmt.Errorf("hls: EXT-X-MAP: %w", err)
			}
			fmt.Fprintf(&b, ",BYTERANGE=%q", p.Map.ByteRange.String())
		}
		b.WriteByte('\n')
	}
	for i, s := range p.Segments {
		if s.Discontinuity {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		fmt.Fprintf(&b, "#EXTINF:%s,%s\n", seconds(s.Duration), s.Title)
		if s.ByteRange != nil {
			if err := checkRange(*s.ByteRange); err != nil {
				return nil, fmt.Errorf("hls: segment %d: %w", i, err)
			}
			fmt.Fprintf(&b, "#EXT-X-BYTERANGE:%s\n", s.ByteRange.String())
		}
		b.WriteString(s.URI)
		b.WriteByte('\n')
	}
	if p.EndList {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return b.Bytes(), nil
}

// WriteTo writes the encoded playlist to w.
func (p *Media) WriteTo(w io.Writer) (int64, error) {
	data, err := p.Encode()
	if err != nil {
		return 0, err
	}
	n, err := w.Write(data)
	return int64(n), err
}

// Encode renders the master playlist. Every variant needs a URI and a BANDWIDTH.
func (m *Master) Encode() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("#EXTM3U\n")
	fmt.Fprintf(&b, "#EXT-X-VERSION:%d\n", orDefault(m.Version, DefaultVersion))
	if m.IndependentSegments {
		b.WriteString("#EXT-X-INDEPENDENT-SEGMENTS\n")
	}
	for i, v := range m.Variants {
		if err := checkURI(v.URI); err != nil {
			return nil, fmt.Errorf("hls: variant %d: %w", i, err)
		}
		if v.Bandwidth <= 0 {
			return nil, fmt.Errorf("hls: variant %d: BANDWIDTH must be positive", i)
		}
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d", v.Bandwidth)
		if v.AverageBandwidth > 0 {
			fmt.Fprintf(&b, ",AVERAGE-BANDWIDTH=%d", v.AverageBandwidth)
		}
		if len(v.Codecs) > 0 {
			for _, c := range v.Codecs {
				if c == "" || strings.ContainsAny(c, "\",\r\n") {
					return nil, fmt.Errorf("hls: variant %d: bad codec %q", i, c)
				}
			}
			fmt.Fprintf(&b, ",CODECS=%q", strings.Join(v.Codecs, ","))
		}
		if v.Width > 0 && v.Height > 0 {
			fmt.Fprintf(&b, ",RESOLUTION=%dx%d", v.Width, v.Height)
		}
		if v.FrameRate > 0 {
			// RFC 8216 asks for three decimal places (29.970, not 29.97002997).
			fmt.Fprintf(&b, ",FRAME-RATE=%.3f", v.FrameRate)
		}
		b.WriteByte('\n')
		b.WriteString(v.URI)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// WriteTo writes the encoded master playlist to w.
func (m *Master) WriteTo(w io.Writer) (int64, error) {
	data, err := m.Encode()
	if err != nil {
		return 0, err
	}
	n, err := w.Write(data)
	return int64(n), err
}

func checkRange(r ByteRange) error {
	if r.Length <= 0 || r.Offset < 0 {
		return fmt.Errorf("bad byte range %d@%d", r.Length, r.Offset)
	}
	return nil
}

// quote writes a quoted-string; RFC 8216 quoted strings cannot contain '"' at all.
func quote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, "%22") + `"`
}

// seconds renders a duration the way ffmpeg does (six decimals), which round-trips exactly
// through the parser's microsecond rounding.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 6, 64)
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
