// Command transcode is the transcode function: OSS calls it for every file uploaded under
// uploads/, and it turns the file into a published adaptive HLS ladder with a cover and a
// storyboard, or refuses it with a reason. See shared/videos/transcode.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"vodfc.dev/vodfc/ffmpeg"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
	"vodfc.dev/vodfc/videos/transcode"
)

// config is everything the function reads from its environment.
type config struct {
	tables    tablestore.Config
	media     oss.Config
	tools     ffmpeg.Tools
	transcode transcode.Config
}

func loadConfig(getenv func(string) string) (config, error) {
	var c config
	var errs []error
	var err error
	if c.tables, err = tablestore.ConfigFromEnv(); err != nil {
		errs = append(errs, err)
	}
	if c.media, err = oss.ConfigFromEnv(); err != nil {
		errs = append(errs, err)
	}
	if c.tools, err = ffmpeg.FromEnv(); err != nil {
		errs = append(errs, err)
	}
	if c.transcode, err = transcode.ConfigFromEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

func newProcessor(c config) (*transcode.Processor, error) {
	db, err := tablestore.New(c.tables)
	if err != nil {
		return nil, err
	}
	media, err := oss.New(c.media)
	if err != nil {
		return nil, err
	}
	return transcode.New(videos.NewStore(db), media, c.tools, c.transcode), nil
}

func main() {
	c, err := loadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "transcode: configuration: %v\n", err)
		os.Exit(1)
	}
	p, err := newProcessor(c)
	if err != nil {
		fmt.Fprintf(os.Stderr, "transcode: %v\n", err)
		os.Exit(1)
	}
	runtime.Objects(p.Handle, runtime.OnInit(func(ctx context.Context) error {
		version, err := c.tools.Version(ctx)
		if err != nil {
			return err
		}
		n, err := transcode.CleanStale(c.transcode.WorkDir)
		if err != nil {
			slog.WarnContext(ctx, "cleaning stale work directories failed", "err", err)
		}
		slog.InfoContext(ctx, "transcoder ready", "ffmpeg", version, "stale_work_dirs_removed", n)
		return nil
	}))
}
