package ffmpeg

import (
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"vodfc.dev/vodfc"
)

// Cover candidates are judged by their luma: a frame is "dark" when more than darkShare of
// its pixels are below darkLuma (the blackframe filter's notion), and "flat" when the luma
// barely varies (a fade, a title card in one colour).
const (
	darkLuma  = 32
	darkShare = 0.9
	flatSigma = 8
)

// lumaStats are a picture's brightness statistics on the 0–255 scale.
type lumaStats struct {
	mean, sigma, dark float64
}

func (s lumaStats) usable() bool { return s.dark <= darkShare && s.sigma >= flatSigma }

// measureLuma samples every other pixel of every other row.
func measureLuma(img image.Image) lumaStats {
	b := img.Bounds()
	var n, sum, sq, dark float64
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			l := (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
			n++
			sum += l
			sq += l * l
			if l < darkLuma {
				dark++
			}
		}
	}
	if n == 0 {
		return lumaStats{}
	}
	mean := sum / n
	return lumaStats{mean: mean, sigma: math.Sqrt(math.Max(0, sq/n-mean*mean)), dark: dark / n}
}

// writeCover picks the best candidate ffmpeg extracted (the most detailed picture that is
// neither dark nor flat, else the brightest) and writes it as cover.jpg. When the candidate
// windows yielded nothing (a source shorter than it declared), one frame is taken from the
// middle of the top rung instead.
func (p *plan) writeCover(ctx context.Context, t Tools, outDir, work string, top RungResult) error {
	files, err := filepath.Glob(filepath.Join(work, "cover-*.png"))
	if err != nil {
		return vodfc.Internal(err)
	}
	if len(files) == 0 {
		fallback := filepath.Join(work, "cover-fallback.png")
		if err := t.frameAt(ctx, filepath.Join(outDir, top.MediaFile), top.Duration/2, p.cover.w, p.cover.h, fallback); err != nil {
			return err
		}
		files = []string{fallback}
	}
	sort.Strings(files)
	var (
		best      image.Image
		bestStats lumaStats
	)
	better := func(s lumaStats) bool {
		if best == nil {
			return true
		}
		if s.usable() != bestStats.usable() {
			return s.usable()
		}
		if s.usable() {
			return s.sigma > bestStats.sigma
		}
		return s.mean > bestStats.mean
	}
	for _, f := range files {
		img, err := readPNG(f)
		if err != nil {
			return vodfc.Internal(fmt.Errorf("ffmpeg: cover candidate: %w", err))
		}
		if s := measureLuma(img); better(s) {
			best, bestStats = img, s
		}
	}
	return writeJPEG(filepath.Join(outDir, "cover.jpg"), best, p.opts.Cover.Quality)
}

// frameAt extracts the frame at offset of one of our own encodes as PNG.
func (t Tools) frameAt(ctx context.Context, media string, at time.Duration, w, h int, out string) error {
	url, err := inputURL(media)
	if err != nil {
		return vodfc.Internal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, t.probeTimeout())
	defer cancel()
	args := append([]string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-n"}, inputArgs()...)
	args = append(args, "-ss", secs(at.Seconds()), "-i", url, "-frames:v", "1",
		"-vf", fmt.Sprintf("scale=%d:%d,setsar=1", w, h), "-c:v", "png", "-f", "image2", out)
	cmd := t.command(ctx, t.FFmpeg, args)
	stderr := newTail(8 << 10)
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return vodfc.Internal(&runError{bin: t.FFmpeg, err: err, stderr: stderr.String()})
	}
	if _, err := os.Stat(out); err != nil {
		return vodfc.Internal(fmt.Errorf("ffmpeg: no frame at %s of %s", at, media))
	}
	return nil
}

func readPNG(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return png.Decode(f)
}

// writeJPEG writes atomically: a crash never leaves half an image under the final name.
func writeJPEG(path string, img image.Image, quality int) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return vodfc.Internal(err)
	}
	if err := jpeg.Encode(f, img, &jpeg.Options{Quality: quality}); err != nil {
		f.Close()
		os.Remove(tmp)
		return vodfc.Internal(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return vodfc.Internal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return vodfc.Internal(err)
	}
	return nil
}
