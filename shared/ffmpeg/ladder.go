package ffmpeg

import (
	"fmt"
	"math"
	"regexp"
	"slices"
)

// Rung is one rendition of the ladder. In a LadderConfig, Width×Height is the landscape
// bounding box the rendition is named after (1920×1080 for "1080p"); in a plan from
// PlanLadder it is the exact output size. Bit rates are bits per second.
type Rung struct {
	Name         string `json:"name"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	VideoBitrate int    `json:"videoBitrate"`
	AudioBitrate int    `json:"audioBitrate"`
}

// LadderConfig describes the renditions to offer.
type LadderConfig struct {
	Rungs []Rung
	// BitrateCap keeps every rung at or below the source's video bit rate times this factor:
	// spending more bits than the source had buys nothing. 0 disables the cap.
	BitrateCap float64
	// MinVideoBitrate is the floor the cap cannot push a rung below.
	MinVideoBitrate int
	// MinAudioBitrate is the floor for audio when the source's own audio rate is lower than
	// a rung's (no point spending 128 kb/s on a 32 kb/s source, but AAC stereo needs some).
	MinAudioBitrate int
}

// DefaultLadder is 1080p 6 Mb/s, 720p 3 Mb/s, 480p 1.2 Mb/s and 360p 500 kb/s, capped at the
// source bit rate × 1.3, with AAC stereo at 128/128/96/64 kb/s.
func DefaultLadder() LadderConfig {
	return LadderConfig{
		Rungs: []Rung{
			{Name: "1080p", Width: 1920, Height: 1080, VideoBitrate: 6_000_000, AudioBitrate: 128_000},
			{Name: "720p", Width: 1280, Height: 720, VideoBitrate: 3_000_000, AudioBitrate: 128_000},
			{Name: "480p", Width: 854, Height: 480, VideoBitrate: 1_200_000, AudioBitrate: 96_000},
			{Name: "360p", Width: 640, Height: 360, VideoBitrate: 500_000, AudioBitrate: 64_000},
		},
		BitrateCap:      1.3,
		MinVideoBitrate: 150_000,
		MinAudioBitrate: 64_000,
	}
}

// rungName keeps rung names usable as file names and object keys.
var rungName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Check reports configuration mistakes: bad names, duplicates, empty boxes or rates.
func (c LadderConfig) Check() error {
	if len(c.Rungs) == 0 {
		return fmt.Errorf("ffmpeg: ladder has no rungs")
	}
	seen := map[string]bool{}
	for _, r := range c.Rungs {
		if !rungName.MatchString(r.Name) {
			return fmt.Errorf("ffmpeg: rung name %q must match %s", r.Name, rungName)
		}
		if seen[r.Name] {
			return fmt.Errorf("ffmpeg: rung %q appears twice", r.Name)
		}
		seen[r.Name] = true
		if r.Width < 2 || r.Height < 2 || r.VideoBitrate <= 0 || r.AudioBitrate <= 0 {
			return fmt.Errorf("ffmpeg: rung %q needs a size, a video and an audio bit rate", r.Name)
		}
	}
	return nil
}

// PlanLadder picks the rungs for a source and sizes them. A rung is kept when the source
// reaches its box in at least one dimension, so nothing is ever upscaled: a 1920×800 film
// gets a 1920×800 "1080p", a 1280×720 upload tops out at 720p. Portrait sources use the box
// turned upright, so a 1080×1920 phone video gets a 1080×1920 "1080p" (it scales on width).
// A source smaller than every box gets the smallest rung at its own size. Each output keeps
// the source's display aspect ratio with even dimensions, and its bit rate shrinks with its
// pixel count when it fills only part of its box, then is capped by the source bit rate.
// The result is ordered largest first.
func PlanLadder(m *Media, cfg LadderConfig) ([]Rung, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if m == nil || m.Width < 2 || m.Height < 2 {
		return nil, fmt.Errorf("ffmpeg: plan ladder: media has no picture size")
	}
	specs := slices.Clone(cfg.Rungs)
	slices.SortStableFunc(specs, func(a, b Rung) int { return b.Width*b.Height - a.Width*a.Height })
	portrait := m.Height > m.Width

	var plan []Rung
	for _, s := range specs {
		bw, bh := s.Width, s.Height
		if portrait != (bh > bw) {
			bw, bh = bh, bw
		}
		if m.Width < bw && m.Height < bh {
			continue
		}
		plan = append(plan, sizeRung(m, s, bw, bh, cfg))
	}
	if len(plan) == 0 {
		s := specs[len(specs)-1]
		plan = append(plan, sizeRung(m, s, m.Width, m.Height, cfg))
	}
	// Two boxes can land on the same size only through rounding; keep the first.
	return slices.CompactFunc(plan, func(a, b Rung) bool { return a.Width == b.Width && a.Height == b.Height }), nil
}

func sizeRung(m *Media, spec Rung, bw, bh int, cfg LadderConfig) Rung {
	f := math.Min(1, math.Min(float64(bw)/float64(m.Width), float64(bh)/float64(m.Height)))
	w := even(float64(m.Width)*f, m.Width)
	h := even(float64(m.Height)*f, m.Height)
	r := Rung{Name: spec.Name, Width: w, Height: h, VideoBitrate: spec.VideoBitrate}

	// Bits per pixel stay those of the box: a 4:3 or letterboxed picture needs fewer bits.
	if fill := float64(w*h) / float64(spec.Width*spec.Height); fill < 1 {
		r.VideoBitrate = int(float64(r.VideoBitrate) * fill)
	}
	if cfg.BitrateCap > 0 && m.VideoBitrate > 0 {
		r.VideoBitrate = min(r.VideoBitrate, int(float64(m.VideoBitrate)*cfg.BitrateCap))
	}
	r.VideoBitrate = max(r.VideoBitrate, cfg.MinVideoBitrate, 1000)
	r.VideoBitrate = r.VideoBitrate / 1000 * 1000

	if m.HasAudio {
		r.AudioBitrate = spec.AudioBitrate
		if m.AudioBitrate > 0 {
			r.AudioBitrate = min(r.AudioBitrate, max(int(m.AudioBitrate), cfg.MinAudioBitrate))
		}
		r.AudioBitrate = r.AudioBitrate / 1000 * 1000
	}
	return r
}

// even rounds v to the nearest even number in [2, limit] (limit rounded down to even).
func even(v float64, limit int) int {
	n := int(math.Round(v/2)) * 2
	return max(2, min(n, limit&^1))
}
