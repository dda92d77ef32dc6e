package hls

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxPlaylistSize bounds what the parsers read: a playlist of a ten-hour video with 4-second
// segments is about 1 MB, so anything far larger is not one of ours.
const MaxPlaylistSize = 16 << 20

// ParseMedia reads a media playlist.
func ParseMedia(r io.Reader) (*Media, error) {
	lines, err := readLines(r)
	if err != nil {
		return nil, err
	}
	p := &Media{}
	var (
		pending    *Segment // tags seen since the last URI
		nextOffset = map[string]int64{}
		lastURI    string
		haveLast   bool
	)
	need := func() *Segment {
		if pending == nil {
			pending = &Segment{Duration: -1}
		}
		return pending
	}
	var pendingRange *struct {
		n, o     int64
		explicit bool
	}
	for i, line := range lines[1:] {
		ln := i + 2
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "#") {
			if pending == nil || pending.Duration < 0 {
				return nil, fmt.Errorf("hls: line %d: URI without #EXTINF", ln)
			}
			if err := checkURI(line); err != nil {
				return nil, fmt.Errorf("hls: line %d: %w", ln, err)
			}
			pending.URI = line
			if pendingRange != nil {
				off := pendingRange.o
				if !pendingRange.explicit {
					prev, ok := nextOffset[line]
					if !haveLast || lastURI != line || !ok {
						return nil, fmt.Errorf("hls: line %d: byte range without offset does not follow a range of the same resource", ln)
					}
					off = prev
				}
				pending.ByteRange = &ByteRange{Length: pendingRange.n, Offset: off}
				nextOffset[line] = off + pendingRange.n
				pendingRange = nil
			}
			lastURI, haveLast = line, true
			p.Segments = append(p.Segments, *pending)
			pending = nil
			continue
		}
		if !strings.HasPrefix(line, "#EXT") {
			continue // a comment
		}
		tag, value, _ := strings.Cut(line, ":")
		switch tag {
		case "#EXTM3U":
			return nil, fmt.Errorf("hls: line %d: repeated #EXTM3U", ln)
		case "#EXT-X-VERSION":
			if p.Version, err = atoi(value); err != nil {
				return nil, fmt.Errorf("hls: line %d: %s: %w", ln, tag, err)
			}
		case "#EXT-X-TARGETDURATION":
			if p.TargetDuration, err = atoi(value); err != nil {
				return nil, fmt.Errorf("hls: line %d: %s: %w", ln, tag, err)
			}
		case "#EXT-X-MEDIA-SEQUENCE":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("hls: line %d: bad %s %q", ln, tag, value)
			}
			p.MediaSequence = n
		case "#EXT-X-PLAYLIST-TYPE":
			if value != "VOD" && value != "EVENT" {
				return nil, fmt.Errorf("hls: line %d: bad %s %q", ln, tag, value)
			}
			p.PlaylistType = value
		case "#EXT-X-INDEPENDENT-SEGMENTS":
			p.IndependentSegments = true
		case "#EXT-X-ENDLIST":
			p.EndList = true
		case "#EXT-X-MAP":
			if len(p.Segments) > 0 || p.Map != nil {
				// More than one initialization section per playlist is legal HLS but never
				// produced here; refusing it keeps RewriteURIs and Bandwidth simple and honest.
				return nil, fmt.Errorf("hls: line %d: only one EXT-X-MAP before the first segment is supported", ln)
			}
			attrs, err := parseAttributes(value)
			if err != nil {
				return nil, fmt.Errorf("hls: line %d: %s: %w", ln, tag, err)
			}
			m := &Map{URI: attrs["URI"]}
			if err := checkURI(m.URI); err != nil {
				return nil, fmt.Errorf("hls: line %d: %s: %w", ln, tag, err)
			}
			if br, ok := attrs["BYTERANGE"]; ok {
				n, o, explicit, err := parseByteRange(br)
				if err != nil {
					return nil, fmt.Errorf("hls: line %d: %s: %w", ln, tag, err)
				}
				if !explicit {
					o = 0
				}
				m.ByteRange = &ByteRange{Length: n, Offset: o}
				nextOffset[m.URI] = o + n
			}
			p.Map = m
		case "#EXTINF":
			durText, title, _ := strings.Cut(value, ",")
			secs, err := strconv.ParseFloat(strings.TrimSpace(durText), 64)
			if err != nil || !(secs > 0 && secs <= 24*3600) {
				return nil, fmt.Errorf("hls: line %d: bad #EXTINF duration %q", ln, durText)
			}
			s := need()
			s.Duration = time.Duration(math.Round(secs*1e6)) * time.Microsecond
			s.Title = title
		case "#EXT-X-BYTERANGE":
			n, o, explicit, err := parseByteRange(value)
			if err != nil {
				return nil, fmt.Errorf("hls: line %d: %s: %w", ln, tag, err)
			}
			need()
			pendingRange = &struct {
				n, o     int64
				explicit bool
			}{n, o, explicit}
		case "#EXT-X-DISCONTINUITY":
			need().Discontinuity = true
		case "#EXT-X-STREAM-INF", "#EXT-X-MEDIA", "#EXT-X-I-FRAME-STREAM-INF":
			return nil, fmt.Errorf("hls: line %d: %s belongs in a master playlist", ln, tag)
		default:
			return nil, fmt.Errorf("hls: line %d: unsupported tag %s", ln, tag)
		}
	}
	if pending != nil {
		return nil, fmt.Errorf("hls: playlist ends inside a segment (no URI after its tags)")
	}
	if p.TargetDuration <= 0 {
		return nil, fmt.Errorf("hls: missing #EXT-X-TARGETDURATION")
	}
	return p, nil
}

// ParseMaster reads a master playlist.
func ParseMaster(r io.Reader) (*Master, error) {
	lines, err := readLines(r)
	if err != nil {
		return nil, err
	}
	m := &Master{}
	var pending *Variant
	for i, line := range lines[1:] {
		ln := i + 2
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "#") {
			if pending == nil {
				return nil, fmt.Errorf("hls: line %d: URI without #EXT-X-STREAM-INF", ln)
			}
			if err := checkURI(line); err != nil {
				return nil, fmt.Errorf("hls: line %d: %w", ln, err)
			}
			pending.URI = line
			m.Variants = append(m.Variants, *pending)
			pending = nil
			continue
		}
		if !strings.HasPrefix(line, "#EXT") {
			continue
		}
		tag, value, _ := strings.Cut(line, ":")
		switch tag {
		case "#EXT-X-VERSION":
			if m.Version, err = atoi(value); err != nil {
				return nil, fmt.Errorf("hls: line %d: %s: %w", ln, tag, err)
			}
		case "#EXT-X-INDEPENDENT-SEGMENTS":
			m.IndependentSegments = true
		case "#EXT-X-STREAM-INF":
			if pending != nil {
				return nil, fmt.Errorf("hls: line %d: #EXT-X-STREAM-INF without URI before it", ln)
			}
			v, err := parseVariant(value)
			if err != nil {
				return nil, fmt.Errorf("hls: line %d: %w", ln, err)
			}
			pending = v
		case "#EXTINF", "#EXT-X-TARGETDURATION", "#EXT-X-MAP", "#EXT-X-BYTERANGE", "#EXT-X-ENDLIST", "#EXT-X-MEDIA-SEQUENCE":
			return nil, fmt.Errorf("hls: line %d: %s belongs in a media playlist", ln, tag)
		default:
			return nil, fmt.Errorf("hls: line %d: unsupported tag %s", ln, tag)
		}
	}
	if pending != nil {
		return nil, fmt.Errorf("hls: playlist ends after #EXT-X-STREAM-INF without a URI")
	}
	return m, nil
}

func parseVariant(value string) (*Variant, error) {
	attrs, err := parseAttributes(value)
	if err != nil {
		return nil, err
	}
	v := &Variant{}
	for k, a := range attrs {
		switch k {
		case "BANDWIDTH":
			if v.Bandwidth, err = strconv.ParseInt(a, 10, 64); err != nil || v.Bandwidth <= 0 {
				return nil, fmt.Errorf("bad BANDWIDTH %q", a)
			}
		case "AVERAGE-BANDWIDTH":
			if v.AverageBandwidth, err = strconv.ParseInt(a, 10, 64); err != nil || v.AverageBandwidth <= 0 {
				return nil, fmt.Errorf("bad AVERAGE-BANDWIDTH %q", a)
			}
		case "CODECS":
			for c := range strings.SplitSeq(a, ",") {
				if c = strings.TrimSpace(c); c != "" {
					v.Codecs = append(v.Codecs, c)
				}
			}
		case "RESOLUTION":
			w, h, ok := strings.Cut(a, "x")
			v.Width, err = strconv.Atoi(w)
			if err == nil {
				v.Height, err = strconv.Atoi(h)
			}
			if !ok || err != nil || v.Width <= 0 || v.Height <= 0 {
				return nil, fmt.Errorf("bad RESOLUTION %q", a)
			}
		case "FRAME-RATE":
			if v.FrameRate, err = strconv.ParseFloat(a, 64); err != nil || !(v.FrameRate > 0 && v.FrameRate <= 1000) {
				return nil, fmt.Errorf("bad FRAME-RATE %q", a)
			}
		default:
			// Other attributes (HDCP-LEVEL, AUDIO groups, ...) are not produced here; dropping
			// them silently would change what the playlist means, so refuse.
			return nil, fmt.Errorf("unsupported EXT-X-STREAM-INF attribute %s", k)
		}
	}
	if v.Bandwidth == 0 {
		return nil, fmt.Errorf("EXT-X-STREAM-INF without BANDWIDTH")
	}
	return v, nil
}

// readLines reads a whole playlist (bounded) and checks its first line.
func readLines(r io.Reader) ([]string, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxPlaylistSize+1))
	if err != nil {
		return nil, fmt.Errorf("hls: read: %w", err)
	}
	if len(data) > MaxPlaylistSize {
		return nil, fmt.Errorf("hls: playlist larger than %d bytes", MaxPlaylistSize)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), MaxPlaylistSize)
	for sc.Scan() {
		lines = append(lines, strings.TrimSpace(sc.Text()))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("hls: %w", err)
	}
	if len(lines) == 0 || lines[0] != "#EXTM3U" {
		return nil, fmt.Errorf("hls: not a playlist (first line is not #EXTM3U)")
	}
	return lines, nil
}

// parseAttributes parses an RFC 8216 §4.2 attribute list. Quoted values lose their quotes.
func parseAttributes(s string) (map[string]string, error) {
	attrs := map[string]string{}
	for s != "" {
		name, rest, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("bad attribute list near %q", s)
		}
		name = strings.TrimSpace(name)
		var value string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unterminated quoted string in attribute %s", name)
			}
			value, rest = rest[1:1+end], rest[2+end:]
		} else {
			value, rest, _ = strings.Cut(rest, ",")
			rest = "," + rest
			if rest == "," {
				rest = ""
			}
		}
		if _, dup := attrs[name]; dup {
			return nil, fmt.Errorf("attribute %s repeated", name)
		}
		attrs[name] = value
		if rest == "" {
			break
		}
		if rest[0] != ',' {
			return nil, fmt.Errorf("bad attribute list after %s", name)
		}
		s = rest[1:]
	}
	return attrs, nil
}

// parseByteRange parses "n[@o]".
func parseByteRange(s string) (n, o int64, explicit bool, err error) {
	ns, os, explicit := strings.Cut(strings.TrimSpace(s), "@")
	n, err = strconv.ParseInt(ns, 10, 64)
	if err != nil || n <= 0 {
		return 0, 0, false, fmt.Errorf("bad byte range %q", s)
	}
	if explicit {
		o, err = strconv.ParseInt(os, 10, 64)
		if err != nil || o < 0 {
			return 0, 0, false, fmt.Errorf("bad byte range %q", s)
		}
	}
	return n, o, explicit, nil
}

func atoi(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad number %q", s)
	}
	return n, nil
}
