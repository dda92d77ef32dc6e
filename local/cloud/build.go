package cloud

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"vodfc.dev/local/manifest"
)

var lookPath = exec.LookPath

// buildAll builds the functions for this machine (host GOOS/GOARCH) with the package of their
// pre-deploy `go build`, into dir/{function}/{executable}. Functions built from the same
// package share one build; at most one `go build` per CPU runs at a time.
func buildAll(ctx context.Context, m *manifest.Manifest, fns []*manifest.Function, dir string, log *slog.Logger) (map[string]string, error) {
	goBin, err := lookPath("go")
	if err != nil {
		return nil, fmt.Errorf("building functions needs the go command on PATH: %w", err)
	}
	type target struct {
		key string
		fns []*manifest.Function
	}
	var targets []*target
	byKey := map[string]*target{}
	for _, f := range fns {
		if f.Build == nil || f.Build.Package == "" {
			return nil, fmt.Errorf("%s: s.yaml has no pre-deploy `go build` for it, so the local cloud does not know what to build", f.Name)
		}
		key := filepath.Join(m.Dir, f.Build.Dir) + "\x00" + f.Build.Package
		t := byKey[key]
		if t == nil {
			t = &target{key: key}
			byKey[key] = t
			targets = append(targets, t)
		}
		t.fns = append(t.fns, f)
	}
	sem := make(chan struct{}, max(runtime.NumCPU(), 1))
	var (
		mu   sync.Mutex
		bins = map[string]string{}
		errs []string
		wg   sync.WaitGroup
	)
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			first := t.fns[0]
			bin, err := build(ctx, goBin, m, first, dir, log)
			out := map[string]string{first.Name: bin}
			for _, f := range t.fns[1:] {
				if err != nil {
					break
				}
				out[f.Name], err = place(bin, filepath.Join(dir, f.Name, executable(f)))
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err.Error())
				return
			}
			for k, v := range out {
				bins[k] = v
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return bins, nil
}

func executable(f *manifest.Function) string {
	if exe := f.Executable(); exe != "" {
		return exe
	}
	return "main"
}

func build(ctx context.Context, goBin string, m *manifest.Manifest, f *manifest.Function, dir string, log *slog.Logger) (string, error) {
	out := filepath.Join(dir, f.Name, executable(f))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, f.Build.Package)
	cmd.Dir = filepath.Join(m.Dir, f.Build.Dir)
	// The host's GOOS/GOARCH: the binary runs here, not in FC.
	cmd.Env = append(os.Environ(), "GOOS=", "GOARCH=")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s: go build %s (%s): %v\n%s", f.Name, f.Build.Package, f.Build.Pos, err, strings.TrimSpace(string(b)))
	}
	log.Debug("built", "function", f.Name, "package", f.Build.Package, "took", time.Since(start).Round(time.Millisecond))
	return out, nil
}

// place puts a copy of an executable at dst: a hard link when possible.
func place(src, dst string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	os.Remove(dst)
	if err := os.Link(src, dst); err == nil {
		return dst, nil
	}
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return "", err
	}
	return dst, out.Close()
}
