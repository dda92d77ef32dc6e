// Package mp4 reads the track descriptions of an ISO BMFF (MP4) initialization segment: enough
// to name each track's codec the way RFC 6381 and HLS CODECS attributes want it
// ("avc1.64001f", "mp4a.40.2") from the bytes that were actually encoded, rather than from
// what the encoder was asked for.
package mp4

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Track is one track of an initialization segment.
type Track struct {
	Handler string // "vide", "soun", ...
	Entry   string // sample entry type: "avc1", "mp4a", ...
	Codec   string // RFC 6381 codec string
	// Width and Height are the visual sample entry's size (video only).
	Width, Height int
	// SampleRate comes from the audio sample entry (audio only). The entry's channel count is
	// not exposed: ISO BMFF lets writers leave it at its template value 2.
	SampleRate int
}

// ReadInit parses the moov box of data (an initialization segment, or the start of a file
// holding one) and describes its tracks.
func ReadInit(data []byte) ([]Track, error) {
	moov, ok, err := child(data, "moov")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("mp4: no moov box")
	}
	var tracks []Track
	err = each(moov, func(typ string, trak []byte) error {
		if typ != "trak" {
			return nil
		}
		t, err := readTrak(trak)
		if err != nil {
			return err
		}
		tracks = append(tracks, t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(tracks) == 0 {
		return nil, errors.New("mp4: moov has no tracks")
	}
	return tracks, nil
}

func readTrak(trak []byte) (Track, error) {
	var t Track
	mdia, err := path(trak, "mdia")
	if err != nil {
		return t, err
	}
	hdlr, err := path(mdia, "hdlr")
	if err != nil {
		return t, err
	}
	if len(hdlr) < 12 {
		return t, errors.New("mp4: short hdlr box")
	}
	t.Handler = string(hdlr[8:12])
	stsd, err := path(mdia, "minf", "stbl", "stsd")
	if err != nil {
		return t, err
	}
	if len(stsd) < 8 {
		return t, errors.New("mp4: short stsd box")
	}
	if binary.BigEndian.Uint32(stsd[4:8]) < 1 {
		return t, errors.New("mp4: stsd has no sample entry")
	}
	// Only the first sample entry matters: ours never switch entries mid-track.
	typ, entry, _, err := next(stsd[8:])
	if err != nil {
		return t, err
	}
	t.Entry = typ
	switch typ {
	case "avc1", "avc3":
		if len(entry) < 78 {
			return t, errors.New("mp4: short visual sample entry")
		}
		t.Width = int(binary.BigEndian.Uint16(entry[24:26]))
		t.Height = int(binary.BigEndian.Uint16(entry[26:28]))
		avcC, ok, err := child(entry[78:], "avcC")
		if err != nil {
			return t, err
		}
		if !ok || len(avcC) < 4 || avcC[0] != 1 {
			return t, errors.New("mp4: avc sample entry without a valid avcC")
		}
		// RFC 6381 §3.3: profile_idc, the constraint flags byte and level_idc, in hex.
		t.Codec = fmt.Sprintf("%s.%02x%02x%02x", typ, avcC[1], avcC[2], avcC[3])
	case "mp4a":
		if len(entry) < 28 {
			return t, errors.New("mp4: short audio sample entry")
		}
		t.SampleRate = int(binary.BigEndian.Uint32(entry[24:28]) >> 16)
		skip := 28
		switch binary.BigEndian.Uint16(entry[8:10]) { // QuickTime sound description version
		case 1:
			skip += 16
		case 2:
			skip += 36
		}
		if len(entry) < skip {
			return t, errors.New("mp4: short audio sample entry")
		}
		esds, ok, err := child(entry[skip:], "esds")
		if err != nil {
			return t, err
		}
		if !ok {
			return t, errors.New("mp4: mp4a sample entry without esds")
		}
		codec, err := esdsCodec(esds)
		if err != nil {
			return t, err
		}
		t.Codec = codec
	default:
		return t, fmt.Errorf("mp4: unsupported sample entry %q", typ)
	}
	return t, nil
}

// esdsCodec reads the ES descriptor: "mp4a.<objectTypeIndication hex>[.<audio object type>]".
func esdsCodec(esds []byte) (string, error) {
	if len(esds) < 4 {
		return "", errors.New("mp4: short esds box")
	}
	d := esds[4:] // version and flags
	tag, body, _, err := descriptor(d)
	if err != nil || tag != 0x03 {
		return "", fmt.Errorf("mp4: esds without ES_Descriptor")
	}
	if len(body) < 3 {
		return "", errors.New("mp4: short ES_Descriptor")
	}
	flags := body[2]
	body = body[3:]
	if flags&0x80 != 0 { // streamDependenceFlag
		if len(body) < 2 {
			return "", errors.New("mp4: short ES_Descriptor")
		}
		body = body[2:]
	}
	if flags&0x40 != 0 { // URL_Flag
		if len(body) < 1 || len(body) < 1+int(body[0]) {
			return "", errors.New("mp4: short ES_Descriptor")
		}
		body = body[1+int(body[0]):]
	}
	if flags&0x20 != 0 { // OCRstreamFlag
		if len(body) < 2 {
			return "", errors.New("mp4: short ES_Descriptor")
		}
		body = body[2:]
	}
	tag, dcd, _, err := descriptor(body)
	if err != nil || tag != 0x04 || len(dcd) < 13 {
		return "", errors.New("mp4: ES_Descriptor without DecoderConfigDescriptor")
	}
	oti := dcd[0]
	codec := fmt.Sprintf("mp4a.%02X", oti)
	if oti != 0x40 { // only MPEG-4 Audio carries an audio object type
		return codec, nil
	}
	tag, asc, _, err := descriptor(dcd[13:])
	if err != nil || tag != 0x05 || len(asc) < 1 {
		return "", errors.New("mp4: MPEG-4 audio without DecoderSpecificInfo")
	}
	aot := int(asc[0] >> 3)
	if aot == 31 { // escape: 32 + the next six bits
		if len(asc) < 2 {
			return "", errors.New("mp4: short AudioSpecificConfig")
		}
		aot = 32 + int((asc[0]&0x07)<<3|asc[1]>>5)
	}
	return fmt.Sprintf("%s.%d", codec, aot), nil
}

// descriptor reads one MPEG-4 descriptor (tag, expandable size, body).
func descriptor(b []byte) (tag byte, body, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errors.New("mp4: short descriptor")
	}
	tag = b[0]
	size, i := 0, 1
	for ; i < 5 && i < len(b); i++ {
		size = size<<7 | int(b[i]&0x7f)
		if b[i]&0x80 == 0 {
			break
		}
	}
	if i >= len(b) || i == 5 {
		return 0, nil, nil, errors.New("mp4: bad descriptor size")
	}
	start := i + 1
	if size > len(b)-start {
		return 0, nil, nil, errors.New("mp4: descriptor overruns its box")
	}
	return tag, b[start : start+size], b[start+size:], nil
}

// next splits the first box off b.
func next(b []byte) (typ string, payload, rest []byte, err error) {
	if len(b) < 8 {
		return "", nil, nil, errors.New("mp4: truncated box header")
	}
	size := uint64(binary.BigEndian.Uint32(b[0:4]))
	typ = string(b[4:8])
	hdr := uint64(8)
	switch size {
	case 0: // to the end of the enclosing data
		size = uint64(len(b))
	case 1:
		if len(b) < 16 {
			return "", nil, nil, errors.New("mp4: truncated large box header")
		}
		size, hdr = binary.BigEndian.Uint64(b[8:16]), 16
	}
	if size < hdr || size > uint64(len(b)) {
		return "", nil, nil, fmt.Errorf("mp4: box %q of %d bytes overruns its %d bytes", typ, size, len(b))
	}
	return typ, b[hdr:size], b[size:], nil
}

// each calls f for every box in b.
func each(b []byte, f func(typ string, payload []byte) error) error {
	for len(b) > 0 {
		typ, payload, rest, err := next(b)
		if err != nil {
			return err
		}
		if err := f(typ, payload); err != nil {
			return err
		}
		b = rest
	}
	return nil
}

// child finds the first box of type typ in b. Boxes after a malformed one are not trusted.
func child(b []byte, typ string) ([]byte, bool, error) {
	for len(b) > 0 {
		t, payload, rest, err := next(b)
		if err != nil {
			return nil, false, err
		}
		if t == typ {
			return payload, true, nil
		}
		b = rest
	}
	return nil, false, nil
}

// path descends through nested boxes.
func path(b []byte, types ...string) ([]byte, error) {
	for _, typ := range types {
		c, ok, err := child(b, typ)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("mp4: no %s box", typ)
		}
		b = c
	}
	return b, nil
}
