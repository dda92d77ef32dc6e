package ffmpeg

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"vodfc.dev/vodfc"
)

// Storyboard is a set of sprite images of small thumbnails, one every Interval, and a WebVTT
// track pointing into them ("storyboard-0.jpg#xywh=160,0,160,90"), the format video players
// read for seek previews. Thumbnail i covers [i×Interval, (i+1)×Interval) and sits in image
// i / (Columns×Rows), row-major.
type Storyboard struct {
	VTT        string        `json:"vtt"`    // "storyboard.vtt"
	Images     []string      `json:"images"` // "storyboard-0.jpg", ...
	Count      int           `json:"count"`  // thumbnails
	Interval   time.Duration `json:"interval"`
	Duration   time.Duration `json:"duration"`
	TileWidth  int           `json:"tileWidth"`
	TileHeight int           `json:"tileHeight"`
	Columns    int           `json:"columns"`
	Rows       int           `json:"rows"` // of a full image; the last may have fewer
}

// Cue is one thumbnail's place in time and in its sprite image.
type Cue struct {
	Start, End time.Duration
	Image      string
	X, Y, W, H int
}

// Cues lists every thumbnail.
func (s *Storyboard) Cues() []Cue {
	per := s.Columns * s.Rows
	cues := make([]Cue, s.Count)
	for i := range cues {
		start := time.Duration(i) * s.Interval
		end := start + s.Interval
		if i == s.Count-1 || end > s.Duration {
			end = max(s.Duration, start+time.Millisecond)
		}
		k := i % per
		cues[i] = Cue{Start: start, End: end, Image: s.Images[i/per],
			X: (k % s.Columns) * s.TileWidth, Y: (k / s.Columns) * s.TileHeight, W: s.TileWidth, H: s.TileHeight}
	}
	return cues
}

// WriteVTT writes the WebVTT thumbnail track. imageURL maps an image name to the URL written
// in the cues; nil writes the bare names (relative to the VTT file), and playback passes a
// function returning signed URLs.
func (s *Storyboard) WriteVTT(w io.Writer, imageURL func(name string) string) error {
	var b bytes.Buffer
	b.WriteString("WEBVTT\n")
	for _, c := range s.Cues() {
		u := c.Image
		if imageURL != nil {
			u = imageURL(c.Image)
		}
		if strings.ContainsAny(u, "\r\n") || strings.Contains(u, "-->") {
			return fmt.Errorf("ffmpeg: storyboard image URL %q cannot go in a VTT cue", u)
		}
		fmt.Fprintf(&b, "\n%s --> %s\n%s#xywh=%d,%d,%d,%d\n", vttTime(c.Start), vttTime(c.End), u, c.X, c.Y, c.W, c.H)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func vttTime(d time.Duration) string {
	ms := d.Milliseconds()
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}

// writeStoryboard tiles the thumbnails ffmpeg extracted into sprite images and writes the
// VTT. It returns nil when ffmpeg extracted none (nothing to preview).
func (p *plan) writeStoryboard(outDir, work string, duration time.Duration) (*Storyboard, error) {
	files, err := filepath.Glob(filepath.Join(work, "board-*.png"))
	if err != nil {
		return nil, vodfc.Internal(err)
	}
	if len(files) == 0 {
		return nil, nil
	}
	sort.Strings(files)
	o := p.opts.Storyboard
	sb := &Storyboard{VTT: "storyboard.vtt", Count: len(files), Interval: p.board.interval, Duration: duration,
		TileWidth: p.board.w, TileHeight: p.board.h, Columns: min(o.Columns, len(files)), Rows: o.Rows}
	per := sb.Columns * sb.Rows
	for first := 0; first < len(files); first += per {
		batch := files[first:min(first+per, len(files))]
		rows := (len(batch) + sb.Columns - 1) / sb.Columns
		sheet := image.NewRGBA(image.Rect(0, 0, sb.Columns*sb.TileWidth, rows*sb.TileHeight))
		for k, f := range batch {
			img, err := readPNG(f)
			if err != nil {
				return nil, vodfc.Internal(fmt.Errorf("ffmpeg: storyboard thumbnail: %w", err))
			}
			at := image.Pt((k%sb.Columns)*sb.TileWidth, (k/sb.Columns)*sb.TileHeight)
			draw.Draw(sheet, image.Rectangle{Min: at, Max: at.Add(image.Pt(sb.TileWidth, sb.TileHeight))}, img, img.Bounds().Min, draw.Src)
		}
		name := fmt.Sprintf("storyboard-%d.jpg", len(sb.Images))
		if err := writeJPEG(filepath.Join(outDir, name), sheet, o.Quality); err != nil {
			return nil, err
		}
		sb.Images = append(sb.Images, name)
	}
	var vtt bytes.Buffer
	if err := sb.WriteVTT(&vtt, nil); err != nil {
		return nil, vodfc.Internal(err)
	}
	if err := os.WriteFile(filepath.Join(outDir, sb.VTT), vtt.Bytes(), 0o644); err != nil {
		return nil, vodfc.Internal(err)
	}
	return sb, nil
}
