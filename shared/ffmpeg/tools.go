package ffmpeg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// FormatWhitelist is the only set of demuxers ffprobe and ffmpeg may use on an upload. It keeps
// out hls, concat, image2 and every other demuxer that follows references: an HLS playlist
// renamed .mp4 would otherwise be opened and read local files or make requests. The names are
// matched against ffmpeg's demuxer names ("mov,mp4,m4a,3gp,3g2,mj2" matches "mov").
const FormatWhitelist = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,flv,avi"

// ProtocolWhitelist lets the demuxers open plain local files and nothing else.
const ProtocolWhitelist = "file"

// layerDir is where the FC FFmpeg layer puts its binaries.
const layerDir = "/opt/bin"

// Tools runs the ffmpeg and ffprobe binaries. The zero value is not usable; build it with
// FromEnv or fill in the paths. A Tools is safe for concurrent use.
type Tools struct {
	FFmpeg  string // path of the ffmpeg binary
	FFprobe string // path of the ffprobe binary
	// ProbeTimeout bounds each ffprobe call (default 30 s). Probing a local file takes well
	// under a second; running out of time means the file is pathological.
	ProbeTimeout time.Duration
	// TranscodeTimeout bounds each Transcode; 0 derives it from the media duration (ten times
	// the duration plus two minutes, far above what 2 cores need for the default ladder).
	TranscodeTimeout time.Duration
}

// FromEnv builds Tools from FFMPEG_PATH and FFPROBE_PATH. Unset variables default to the FC
// FFmpeg layer's /opt/bin binaries when they exist, else to the binaries on PATH. It fails
// when a binary cannot be found, so a misconfigured function stops at start-up.
func FromEnv() (Tools, error) {
	ff, err := findBinary("FFMPEG_PATH", "ffmpeg")
	if err != nil {
		return Tools{}, err
	}
	fp, err := findBinary("FFPROBE_PATH", "ffprobe")
	if err != nil {
		return Tools{}, err
	}
	return Tools{FFmpeg: ff, FFprobe: fp}, nil
}

func findBinary(env, name string) (string, error) {
	if p := os.Getenv(env); p != "" {
		found, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("ffmpeg: %s=%q: %w", env, p, err)
		}
		return found, nil
	}
	if found, err := exec.LookPath(filepath.Join(layerDir, name)); err == nil {
		return found, nil
	}
	found, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("ffmpeg: %s not set and no %s in %s or on PATH", env, name, layerDir)
	}
	return found, nil
}

// Version returns the first line of `ffmpeg -version` ("ffmpeg version 5.1.9-0+deb12u1 ..."),
// for logs and start-up checks.
func (t Tools) Version(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, t.probeTimeout())
	defer cancel()
	var out bytes.Buffer
	cmd := t.command(ctx, t.FFmpeg, []string{"-hide_banner", "-version"})
	cmd.Stdout = &limitedWriter{w: &out, n: 64 << 10}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("ffmpeg: %s -version: %w", t.FFmpeg, err)
	}
	line, _, _ := strings.Cut(out.String(), "\n")
	return strings.TrimSpace(line), nil
}

// filterCache remembers which filters each ffmpeg binary has: builds differ (the FC layer's
// may lack libzimg), and asking costs a process start.
var filterCache struct {
	sync.Mutex
	byBinary map[string]map[string]bool
}

// hasFilters reports whether the ffmpeg binary has every named filter.
func (t Tools) hasFilters(ctx context.Context, names ...string) (bool, error) {
	filterCache.Lock()
	defer filterCache.Unlock()
	have, ok := filterCache.byBinary[t.FFmpeg]
	if !ok {
		ctx, cancel := context.WithTimeout(ctx, t.probeTimeout())
		defer cancel()
		var out bytes.Buffer
		cmd := t.command(ctx, t.FFmpeg, []string{"-hide_banner", "-filters"})
		cmd.Stdout = &limitedWriter{w: &out, n: 1 << 20}
		if err := cmd.Run(); err != nil {
			return false, fmt.Errorf("ffmpeg: %s -filters: %w", t.FFmpeg, err)
		}
		have = map[string]bool{}
		// Lines look like " TSC zscale            V->V       Apply resizing, ...".
		for line := range strings.SplitSeq(out.String(), "\n") {
			if f := strings.Fields(line); len(f) >= 3 && strings.Contains(f[2], "->") {
				have[f[1]] = true
			}
		}
		if filterCache.byBinary == nil {
			filterCache.byBinary = map[string]map[string]bool{}
		}
		filterCache.byBinary[t.FFmpeg] = have
	}
	for _, n := range names {
		if !have[n] {
			return false, nil
		}
	}
	return true, nil
}

func (t Tools) probeTimeout() time.Duration {
	if t.ProbeTimeout > 0 {
		return t.ProbeTimeout
	}
	return 30 * time.Second
}

// command prepares one run of a binary: an argv slice (never a shell), stdin from /dev/null,
// killed when ctx ends, and killed with this process if it dies (Linux), so no ffmpeg
// outlives the function that started it.
func (t Tools) command(ctx context.Context, bin string, args []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = nil
	// Wait returns at most this long after the kill even if a pipe is still held open.
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = toolEnv()
	setProcAttr(cmd)
	return cmd
}

// toolEnv is this process's environment minus variables that would make ffmpeg write files
// of its own choosing (FFREPORT) or change its logging behind our back. LD_LIBRARY_PATH and
// the rest stay: the FC layer's binaries may need them.
func toolEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "FFREPORT" || strings.HasPrefix(name, "AV_LOG_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// inputArgs are the options placed before every -i of an upload: whitelists are options of
// the demuxer context, so they must precede the input they guard.
func inputArgs() []string {
	return []string{"-protocol_whitelist", ProtocolWhitelist, "-format_whitelist", FormatWhitelist}
}

// inputURL names a local file so that ffmpeg cannot read anything else into it: an absolute
// path behind the file: protocol, so names like "http:x" or "subfile,,..." stay file names.
func inputURL(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return "file:" + abs, nil
}

// tail keeps the last max bytes written to it: enough of ffmpeg's stderr to explain a failure
// without holding an arbitrarily chatty log in memory.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
	cut bool
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.cut = true
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.buf))
	if t.cut {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:] // drop the partial first line
		}
		s = "…\n" + s
	}
	return s
}

// limitedWriter accepts at most n bytes and then fails, so an unexpectedly large output ends
// the run instead of growing without bound.
type limitedWriter struct {
	w interface{ Write([]byte) (int, error) }
	n int64
}

var errOutputTooLarge = errors.New("output too large")

func (l *limitedWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		return 0, errOutputTooLarge
	}
	l.n -= int64(len(p))
	return l.w.Write(p)
}

// runError describes a failed run for logs: the exit status and the tail of stderr.
type runError struct {
	bin    string
	err    error
	stderr string
}

func (e *runError) Error() string {
	if e.stderr == "" {
		return fmt.Sprintf("%s: %v", filepath.Base(e.bin), e.err)
	}
	return fmt.Sprintf("%s: %v: %s", filepath.Base(e.bin), e.err, e.stderr)
}

func (e *runError) Unwrap() error { return e.err }
