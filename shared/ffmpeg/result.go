package ffmpeg

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/ffmpeg/hls"
	"vodfc.dev/vodfc/ffmpeg/internal/mp4"
)

// Result describes everything a Transcode wrote. Names are relative to outDir; the struct is
// JSON-friendly so the transcode function can store it with the video, and playback can
// rebuild a master playlist from the rungs without reading storage.
type Result struct {
	Rungs      []RungResult  `json:"rungs"`
	Master     string        `json:"master"` // "master.m3u8", listing every rung
	Cover      string        `json:"cover,omitempty"`
	Storyboard *Storyboard   `json:"storyboard,omitempty"`
	Duration   time.Duration `json:"duration"` // of the encoded video
	FrameRate  Rational      `json:"frameRate"`
	// ToneMapped is set when an HDR source was converted to SDR. An HDR source without it was
	// encoded as is (the ffmpeg build lacks zscale): its colours will look flat; log it.
	ToneMapped bool `json:"toneMapped,omitempty"`
	// Files lists every file written, with the content type to store it under.
	Files []File `json:"files"`
}

// File is one output file.
type File struct {
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
}

// RungResult is one encoded rendition, measured from what was written.
type RungResult struct {
	Name         string  `json:"name"`
	Width        int     `json:"width"`  // from the encoded stream
	Height       int     `json:"height"` // from the encoded stream
	FrameRate    float64 `json:"frameRate"`
	VideoBitrate int     `json:"videoBitrate"` // the target it was encoded for
	AudioBitrate int     `json:"audioBitrate,omitempty"`
	// Codecs are RFC 6381 strings read from the init segment ("avc1.64001f", "mp4a.40.2").
	Codecs []string `json:"codecs"`
	// Bandwidth is the peak segment bit rate, AverageBandwidth the mean (bits per second).
	Bandwidth        int64         `json:"bandwidth"`
	AverageBandwidth int64         `json:"averageBandwidth"`
	Playlist         string        `json:"playlist"`  // variant playlist, e.g. "720p.m3u8"
	MediaFile        string        `json:"mediaFile"` // the single fMP4 file, e.g. "720p.mp4"
	Size             int64         `json:"size"`      // bytes of MediaFile
	InitRange        hls.ByteRange `json:"initRange"`
	Segments         int           `json:"segments"`
	Duration         time.Duration `json:"duration"`
}

// WriteMaster writes a master playlist listing the given rungs in the given order (players
// start with the first). Each rung's Playlist is written as its URI, so a caller serving a
// viewer passes the rungs that viewer may watch with Playlist set to a signed URL.
func WriteMaster(w io.Writer, rungs []RungResult) error {
	if len(rungs) == 0 {
		return fmt.Errorf("ffmpeg: master playlist without rungs")
	}
	m := &hls.Master{IndependentSegments: true}
	for _, r := range rungs {
		m.Variants = append(m.Variants, hls.Variant{
			URI: r.Playlist, Bandwidth: r.Bandwidth, AverageBandwidth: r.AverageBandwidth,
			Codecs: r.Codecs, Width: r.Width, Height: r.Height, FrameRate: r.FrameRate,
		})
	}
	_, err := m.WriteTo(w)
	return err
}

const (
	typeM3U8 = "application/vnd.apple.mpegurl"
	typeMP4  = "video/mp4"
	typeJPEG = "image/jpeg"
	typeVTT  = "text/vtt"
)

// finish measures the rungs, checks the encode is whole, and writes the cover, the storyboard
// and the master playlist.
func (p *plan) finish(ctx context.Context, t Tools, outDir, work string) (*Result, error) {
	res := &Result{FrameRate: p.rate, Master: "master.m3u8", ToneMapped: p.toneMap}
	for _, r := range p.ladder {
		rr, err := p.measureRung(outDir, r)
		if err != nil {
			return nil, err
		}
		res.Rungs = append(res.Rungs, rr)
		res.Files = append(res.Files, File{Name: rr.Playlist, ContentType: typeM3U8}, File{Name: rr.MediaFile, ContentType: typeMP4})
	}
	res.Duration = res.Rungs[0].Duration
	// A source cut short (or lying about its length) decodes to less than it declared; ffmpeg
	// logs the decode errors but exits 0, so the encoded length is the honest check.
	if want := p.m.Duration; res.Duration < want*9/10-time.Second {
		return nil, invalid(CodeCorrupt, fmt.Sprintf("the video breaks off at %s of the %s it declares",
			res.Duration.Round(time.Second), want.Round(time.Second)), nil)
	}
	if p.cover != nil {
		if err := p.writeCover(ctx, t, outDir, work, res.Rungs[0]); err != nil {
			return nil, err
		}
		res.Cover = "cover.jpg"
		res.Files = append(res.Files, File{Name: res.Cover, ContentType: typeJPEG})
	}
	if p.board != nil {
		sb, err := p.writeStoryboard(outDir, work, res.Duration)
		if err != nil {
			return nil, err
		}
		if sb != nil {
			res.Storyboard = sb
			for _, img := range sb.Images {
				res.Files = append(res.Files, File{Name: img, ContentType: typeJPEG})
			}
			res.Files = append(res.Files, File{Name: sb.VTT, ContentType: typeVTT})
		}
	}
	var master bytes.Buffer
	if err := WriteMaster(&master, res.Rungs); err != nil {
		return nil, vodfc.Internal(err)
	}
	if err := os.WriteFile(filepath.Join(outDir, res.Master), master.Bytes(), 0o644); err != nil {
		return nil, vodfc.Internal(err)
	}
	res.Files = append(res.Files, File{Name: res.Master, ContentType: typeM3U8})
	for i := range res.Files {
		fi, err := os.Stat(filepath.Join(outDir, res.Files[i].Name))
		if err != nil {
			return nil, vodfc.Internal(err)
		}
		res.Files[i].Size = fi.Size()
	}
	return res, nil
}

// measureRung reads back one rung: its playlist (rewritten in our canonical form), its init
// segment's codecs and size, and its bit rates from the byte ranges.
func (p *plan) measureRung(outDir string, r Rung) (RungResult, error) {
	rr := RungResult{Name: r.Name, Playlist: r.Name + ".m3u8", MediaFile: r.Name + ".mp4",
		VideoBitrate: r.VideoBitrate, FrameRate: p.rate.Float()}
	if p.m.HasAudio {
		rr.AudioBitrate = r.AudioBitrate
	}
	fail := func(err error) (RungResult, error) {
		// No playlist or no media after a clean exit: nothing could be decoded.
		if os.IsNotExist(err) {
			return rr, invalid(CodeCorrupt, "no picture could be decoded from the video", err)
		}
		return rr, vodfc.Internal(fmt.Errorf("ffmpeg: rung %s: %w", r.Name, err))
	}
	raw, err := os.ReadFile(filepath.Join(outDir, rr.Playlist))
	if err != nil {
		return fail(err)
	}
	pl, err := hls.ParseMedia(bytes.NewReader(raw))
	if err != nil {
		return fail(err)
	}
	if len(pl.Segments) == 0 || pl.Map == nil || pl.Map.ByteRange == nil {
		return rr, invalid(CodeCorrupt, "no picture could be decoded from the video",
			fmt.Errorf("rung %s: playlist without segments or init section", r.Name))
	}
	if pl.Map.URI != rr.MediaFile || slices.ContainsFunc(pl.Segments, func(s hls.Segment) bool { return s.URI != rr.MediaFile }) {
		return fail(fmt.Errorf("playlist refers to files other than %s", rr.MediaFile))
	}
	fi, err := os.Stat(filepath.Join(outDir, rr.MediaFile))
	if err != nil {
		return fail(err)
	}
	rr.Size = fi.Size()
	last := pl.Segments[len(pl.Segments)-1].ByteRange
	if last == nil || last.End() != rr.Size {
		return fail(fmt.Errorf("segments end at %v but the file has %d bytes", last, rr.Size))
	}
	rr.InitRange = *pl.Map.ByteRange
	init := make([]byte, rr.InitRange.Length)
	f, err := os.Open(filepath.Join(outDir, rr.MediaFile))
	if err != nil {
		return fail(err)
	}
	_, err = f.ReadAt(init, rr.InitRange.Offset)
	f.Close()
	if err != nil {
		return fail(err)
	}
	tracks, err := mp4.ReadInit(init)
	if err != nil {
		return fail(err)
	}
	for _, tr := range tracks {
		switch tr.Handler {
		case "vide":
			rr.Width, rr.Height = tr.Width, tr.Height
			rr.Codecs = append([]string{tr.Codec}, rr.Codecs...)
		case "soun":
			rr.Codecs = append(rr.Codecs, tr.Codec)
		}
	}
	if rr.Width == 0 || (p.m.HasAudio && len(rr.Codecs) != 2) {
		return fail(fmt.Errorf("init segment has tracks %+v", tracks))
	}
	rr.Bandwidth, rr.AverageBandwidth, err = pl.Bandwidth()
	if err != nil {
		return fail(err)
	}
	rr.Segments = len(pl.Segments)
	rr.Duration = pl.Duration()
	// Rewrite in canonical form: explicit offsets everywhere, checked by our own writer.
	out, err := pl.Encode()
	if err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(outDir, rr.Playlist), out, 0o644); err != nil {
		return fail(err)
	}
	return rr, nil
}
