// Command transcode measures the video pipeline's encode on one generated source and prints
// a markdown table: the one-pass ladder (ffmpeg.Transcode, with and without cover and
// storyboard) against one ffmpeg run per rung, as PeerTube encodes, with the same rungs and
// settings. The source is generated once with lavfi, so nothing is downloaded.
//
//	go run ./bench/transcode                 # 1080p30, 30 s, default ladder, veryfast
//	go run ./bench/transcode -runs 3 -duration 60s -only one-pass,per-rung
//
// To measure another way of encoding (the transcode function end to end, say), add a
// variant to the variants slice: it gets the shared source and its probe, and returns when
// its work is done.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"vodfc.dev/vodfc/ffmpeg"
)

// env is what every variant gets.
type env struct {
	tools  ffmpeg.Tools
	source string        // path of the generated source
	media  *ffmpeg.Media // its probe
	ladder []ffmpeg.Rung // the planned ladder
	opts   ffmpeg.Options
	work   string // a fresh empty directory for this run
}

// variant is one way of producing the renditions. setup, when set, runs untimed before each
// run and returns the work to time (run is then unused).
type variant struct {
	name, about string
	run         func(ctx context.Context, e env) error
	setup       func(ctx context.Context, e env) (func(context.Context) error, error)
}

var variants = []variant{
	{name: "function", about: "the transcode function's work end to end: download from the OSS emulator, probe, encode (the one-pass ladder + cover + storyboard), upload every output, publish the row", setup: setupFunction},
	{name: "one-pass", about: "ffmpeg.Transcode: whole ladder + cover + storyboard in one ffmpeg run", run: func(ctx context.Context, e env) error {
		_, err := e.tools.Transcode(ctx, e.source, filepath.Join(e.work, "out"), e.media, e.ladder, e.opts, nil)
		return err
	}},
	{name: "one-pass-ladder", about: "the same, ladder only (no cover, no storyboard)", run: func(ctx context.Context, e env) error {
		o := e.opts
		o.Cover.Disabled, o.Storyboard.Disabled = true, true
		_, err := e.tools.Transcode(ctx, e.source, filepath.Join(e.work, "out"), e.media, e.ladder, o, nil)
		return err
	}},
	{name: "per-rung", about: "one ffmpeg run per rung, one after another (PeerTube), same settings, ladder only", run: func(ctx context.Context, e env) error {
		o := e.opts
		o.Cover.Disabled, o.Storyboard.Disabled = true, true
		for _, r := range e.ladder {
			if _, err := e.tools.Transcode(ctx, e.source, filepath.Join(e.work, r.Name), e.media, []ffmpeg.Rung{r}, o, nil); err != nil {
				return err
			}
		}
		return nil
	}},
}

func main() {
	var (
		duration = flag.Duration("duration", 30*time.Second, "source duration")
		size     = flag.String("size", "1920x1080", "source size")
		fps      = flag.Int("fps", 30, "source frame rate")
		runs     = flag.Int("runs", 1, "runs per variant (the median is reported)")
		preset   = flag.String("preset", "veryfast", "x264 preset of the ladder")
		only     = flag.String("only", "", "comma-separated variants to run (default all)")
		baseline = flag.String("baseline", "one-pass", "variant the ratios are taken against")
		keep     = flag.String("keep", "", "keep the source and outputs in this directory")
	)
	flag.Parse()
	if err := run(*duration, *size, *fps, *runs, *preset, *only, *baseline, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench/transcode:", err)
		os.Exit(1)
	}
}

type result struct {
	v         variant
	wall, cpu time.Duration
}

func run(duration time.Duration, size string, fps, runs int, preset, only, baseline, keep string) error {
	ctx := context.Background()
	tools, err := ffmpeg.FromEnv()
	if err != nil {
		return err
	}
	version, err := tools.Version(ctx)
	if err != nil {
		return err
	}
	dir := keep
	if dir == "" {
		if dir, err = os.MkdirTemp("", "bench-transcode-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	source := filepath.Join(dir, "source.mp4")
	fmt.Fprintf(os.Stderr, "generating %s %dfps %s source...\n", size, fps, duration)
	if err := generate(ctx, tools.FFmpeg, source, size, fps, duration); err != nil {
		return err
	}
	m, err := tools.Probe(ctx, source)
	if err != nil {
		return err
	}
	if err := ffmpeg.Validate(m, ffmpeg.DefaultLimits()); err != nil {
		return err
	}
	ladder, err := ffmpeg.PlanLadder(m, ffmpeg.DefaultLadder())
	if err != nil {
		return err
	}

	selected := variants
	if only != "" {
		names := strings.Split(only, ",")
		selected = slices.DeleteFunc(slices.Clone(variants), func(v variant) bool { return !slices.Contains(names, v.name) })
	}
	// Rounds run every variant once, so load from other work on a shared machine falls on all
	// variants alike instead of on whichever ran while it lasted.
	walls := make([][]time.Duration, len(selected))
	cpus := make([][]time.Duration, len(selected))
	for i := range runs {
		for k, v := range selected {
			work := filepath.Join(dir, fmt.Sprintf("%s-%d", v.name, i))
			if err := os.MkdirAll(work, 0o755); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "round %d: %s...\n", i+1, v.name)
			e := env{tools: tools, source: source, media: m, ladder: ladder, opts: ffmpeg.Options{Preset: preset}, work: work}
			job := func(ctx context.Context) error { return v.run(ctx, e) }
			if v.setup != nil {
				var err error
				if job, err = v.setup(ctx, e); err != nil {
					return fmt.Errorf("%s: setup: %w", v.name, err)
				}
			}
			cpu0 := childCPU()
			start := time.Now()
			err := job(ctx)
			walls[k] = append(walls[k], time.Since(start))
			cpus[k] = append(cpus[k], childCPU()-cpu0)
			if err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			if keep == "" {
				os.RemoveAll(e.work)
			}
		}
	}
	var results []result
	for k, v := range selected {
		results = append(results, result{v: v, wall: median(walls[k]), cpu: median(cpus[k])})
	}

	var base *result
	for i := range results {
		if results[i].v.name == baseline {
			base = &results[i]
		}
	}
	var rungs []string
	for _, r := range ladder {
		rungs = append(rungs, fmt.Sprintf("%s %dx%d %dk", r.Name, r.Width, r.Height, r.VideoBitrate/1000))
	}
	fmt.Printf("Source: %s, %s, %.0f fps, %d kb/s (lavfi testsrc2 + sine). Ladder: %s; preset %s. %s. %d run(s), median.\n\n",
		size, m.Duration.Round(time.Millisecond), m.FPS, m.Bitrate/1000, strings.Join(rungs, ", "), preset, version, runs)
	fmt.Println("| variant | what | wall time | × real time | CPU time (ffmpeg) | wall time / " + baseline + " |")
	fmt.Println("|---|---|---:|---:|---:|---:|")
	for _, r := range results {
		ratio := "–"
		if base != nil {
			ratio = fmt.Sprintf("%.2f", r.wall.Seconds()/base.wall.Seconds())
		}
		fmt.Printf("| %s | %s | %.1f s | %.2f | %.1f s | %s |\n", r.v.name, r.v.about, r.wall.Seconds(),
			m.Duration.Seconds()/r.wall.Seconds(), r.cpu.Seconds(), ratio)
	}
	return nil
}

// generate encodes the synthetic source: moving test pattern and a tone, as a camera would
// deliver it (H.264 high quality, AAC).
func generate(ctx context.Context, bin, out, size string, fps int, d time.Duration) error {
	secs := fmt.Sprintf("%.3f", d.Seconds())
	cmd := exec.CommandContext(ctx, bin, "-hide_banner", "-nostdin", "-v", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=s=%s:r=%d:d=%s", size, fps, secs),
		"-f", "lavfi", "-i", "sine=f=440:r=48000:d="+secs,
		"-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "192k", "-shortest", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("generate source: %v: %s", err, b)
	}
	return nil
}

// childCPU is the user+system time of all waited-for children so far.
func childCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
