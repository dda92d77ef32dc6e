// Package hls reads and writes the HLS playlists vodfc produces: media (variant) playlists of
// fragmented MP4 held in one file per rendition and addressed by byte ranges, and master
// playlists listing those renditions.
//
// It is deliberately strict: it understands the tags ffmpeg's HLS muxer and this package write
// (RFC 8216 plus the attributes players need) and rejects anything else with a clear error,
// because its callers rewrite playlists (signed URIs, per-viewer rendition lists) and must never
// pass through something they did not understand. Byte ranges are always written with an
// explicit offset, so a rewritten segment URI never depends on the segment before it.
package hls

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ByteRange is a sub-range of a resource: Length bytes starting at Offset.
type ByteRange struct {
	Length int64 `json:"length"`
	Offset int64 `json:"offset"`
}

// End is the offset one past the range's last byte.
func (r ByteRange) End() int64 { return r.Offset + r.Length }

// String renders the range as HLS writes it: "length@offset".
func (r ByteRange) String() string {
	return strconv.FormatInt(r.Length, 10) + "@" + strconv.FormatInt(r.Offset, 10)
}

// HTTPRange renders the range as an HTTP Range header value ("bytes=first-last").
func (r ByteRange) HTTPRange() string {
	return fmt.Sprintf("bytes=%d-%d", r.Offset, r.End()-1)
}

// Map is the media initialization section (EXT-X-MAP).
type Map struct {
	URI string
	// ByteRange is nil when the whole resource is the initialization section.
	ByteRange *ByteRange
}

// Segment is one media segment.
type Segment struct {
	Duration time.Duration
	Title    string
	URI      string
	// ByteRange is nil when the segment is the whole resource.
	ByteRange *ByteRange
	// Discontinuity marks an EXT-X-DISCONTINUITY before this segment.
	Discontinuity bool
}

// Media is a media playlist.
type Media struct {
	Version             int
	TargetDuration      int // seconds
	MediaSequence       int64
	PlaylistType        string // "VOD", "EVENT" or "" (live)
	IndependentSegments bool
	Map                 *Map
	Segments            []Segment
	EndList             bool
}

// Duration is the sum of the segment durations.
func (p *Media) Duration() time.Duration {
	var d time.Duration
	for _, s := range p.Segments {
		d += s.Duration
	}
	return d
}

// RewriteURIs replaces the URI of the initialization section and of every segment with
// f(uri). f is called once per distinct URI, so a playlist whose segments all live in one file
// costs one call (one signature) however many segments it has.
func (p *Media) RewriteURIs(f func(uri string) (string, error)) error {
	seen := map[string]string{}
	rewrite := func(uri string) (string, error) {
		if v, ok := seen[uri]; ok {
			return v, nil
		}
		v, err := f(uri)
		if err != nil {
			return "", err
		}
		if err := checkURI(v); err != nil {
			return "", err
		}
		seen[uri] = v
		return v, nil
	}
	if p.Map != nil {
		v, err := rewrite(p.Map.URI)
		if err != nil {
			return err
		}
		p.Map.URI = v
	}
	for i := range p.Segments {
		v, err := rewrite(p.Segments[i].URI)
		if err != nil {
			return err
		}
		p.Segments[i].URI = v
	}
	return nil
}

// Bandwidth measures the playlist's bit rates from its byte ranges: peak is the highest
// bit rate of any single segment (the BANDWIDTH attribute of RFC 8216 §4.3.4.2), average is
// total segment bytes over total duration (AVERAGE-BANDWIDTH). Both are bits per second,
// rounded up. It fails when a segment has no byte range, since its size is then unknown here.
func (p *Media) Bandwidth() (peak, average int64, err error) {
	var bytes int64
	var total time.Duration
	for i, s := range p.Segments {
		if s.ByteRange == nil {
			return 0, 0, fmt.Errorf("hls: segment %d has no byte range", i)
		}
		if s.Duration <= 0 {
			return 0, 0, fmt.Errorf("hls: segment %d has duration %v", i, s.Duration)
		}
		bytes += s.ByteRange.Length
		total += s.Duration
		if r := bitrate(s.ByteRange.Length, s.Duration); r > peak {
			peak = r
		}
	}
	if total <= 0 {
		return 0, 0, fmt.Errorf("hls: playlist has no segments")
	}
	return peak, bitrate(bytes, total), nil
}

func bitrate(bytes int64, d time.Duration) int64 {
	bits := float64(bytes) * 8 / d.Seconds()
	r := int64(bits)
	if float64(r) < bits {
		r++
	}
	return r
}

// Variant is one EXT-X-STREAM-INF entry of a master playlist.
type Variant struct {
	URI              string
	Bandwidth        int64 // peak bits per second, required
	AverageBandwidth int64 // 0 = omitted
	Codecs           []string
	Width, Height    int     // 0 = RESOLUTION omitted
	FrameRate        float64 // 0 = omitted
}

// Master is a master playlist.
type Master struct {
	Version             int
	IndependentSegments bool
	Variants            []Variant
}

// checkURI refuses URIs that would break the line-oriented format.
func checkURI(uri string) error {
	if uri == "" {
		return fmt.Errorf("hls: empty URI")
	}
	if strings.ContainsAny(uri, "\r\n") {
		return fmt.Errorf("hls: URI contains a line break")
	}
	if strings.HasPrefix(uri, "#") {
		return fmt.Errorf("hls: URI starts with '#'")
	}
	return nil
}
