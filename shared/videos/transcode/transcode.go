// Package transcode turns an uploaded file into a published video. It owns one processing
// attempt from the OSS upload event to the row flipping to ready: claiming the video (so
// redelivered and duplicate events do nothing), checking the object against what the owner
// declared, probing it with ffmpeg's whitelists, encoding the whole ladder with cover and
// storyboard in one ffmpeg pass while reporting progress, uploading the outputs under the
// attempt's own prefix and publishing them with one conditional write.
//
// Every step is safe to crash at: until Publish succeeds the row points at no media, so a
// half-written prefix is never visible; the claim is released on failures a retry may cure
// and taken over when its holder died (a claim older than the function's timeout, or the
// platform's redelivery of the very invocation that died). Uploads that are broken, hostile
// or too large end as failed with a stable code and their source deleted.
package transcode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/ffmpeg"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/videos"
)

// Codes a refused upload ends with, in addition to ffmpeg's (not_a_video, unsupported_codec,
// too_long, too_large, corrupt).
const (
	// CodeSizeMismatch: the stored object is not the size the owner declared.
	CodeSizeMismatch = "size_mismatch"
	// CodeProcessingFailed: processing kept failing on our side until the platform's last
	// retry; the owner may upload again.
	CodeProcessingFailed = "processing_failed"
)

// Processor handles upload events.
type Processor struct {
	store *videos.Store
	media *oss.Store
	tools ffmpeg.Tools
	cfg   Config
	now   func() time.Time
}

// New returns a processor. tools.TranscodeTimeout is set from cfg.Timeout.
func New(store *videos.Store, media *oss.Store, tools ffmpeg.Tools, cfg Config) *Processor {
	tools.TranscodeTimeout = cfg.Timeout
	return &Processor{store: store, media: media, tools: tools, cfg: cfg, now: runtime.Now}
}

// sourceVideo returns the video id of an upload key, uploads/{id}/source.
func sourceVideo(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, vodfc.UploadsPrefix)
	if !ok {
		return "", false
	}
	id, file, ok := strings.Cut(rest, "/")
	if !ok || file != "source" || !vodfc.ValidID(id) {
		return "", false
	}
	return id, true
}

// Handle processes one object-created event. It returns an error only for failures a retry
// may cure; the platform then redelivers the event. Everything it decides is logged with the
// reason.
func (p *Processor) Handle(ctx context.Context, ev runtime.ObjectEvent) error {
	log := slog.With("key", ev.Key, "event", ev.Name)
	if !strings.HasPrefix(ev.Name, "ObjectCreated:") {
		log.InfoContext(ctx, "ignoring an event that creates no object")
		return nil
	}
	id, ok := sourceVideo(ev.Key)
	if !ok {
		log.WarnContext(ctx, "deleting an upload that is not a video source (uploads/{id}/source)")
		return p.media.Delete(ctx, ev.Key)
	}
	log = log.With("video", id)
	v, err := p.store.Get(ctx, id)
	if vodfc.IsKind(err, vodfc.KindNotFound) {
		log.WarnContext(ctx, "deleting an upload with no matching video")
		return p.media.Delete(ctx, ev.Key)
	}
	if err != nil {
		return fmt.Errorf("reading video %s: %w", id, err)
	}
	var replaces string
	switch v.Status {
	case vodfc.StatusReady:
		log.InfoContext(ctx, "nothing to do: the video is already published (a redelivered or duplicate event)")
		return nil
	case vodfc.StatusFailed, vodfc.StatusDeleted:
		log.WarnContext(ctx, "deleting an upload of a video that is "+string(v.Status))
		return p.media.Delete(ctx, ev.Key)
	case vodfc.StatusProcessing:
		age := p.now().Sub(v.ClaimedAt)
		holder, err := p.store.ClaimRequest(ctx, id)
		if err != nil {
			return err
		}
		redelivered := runtime.RetryCount(ctx) > 0 && holder != "" && holder == runtime.RequestID(ctx)
		if age < p.cfg.ClaimTTL && !redelivered {
			log.InfoContext(ctx, "nothing to do: another attempt is processing the video", "attempt", v.AttemptID, "claim_age", age.Round(time.Second).String())
			return nil
		}
		log.WarnContext(ctx, "taking over a processing claim whose attempt died", "attempt", v.AttemptID,
			"claim_age", age.Round(time.Second).String(), "redelivered", redelivered)
		replaces = v.AttemptID
	case vodfc.StatusAwaitingUpload:
	default:
		return fmt.Errorf("video %s has unknown status %q", id, v.Status)
	}

	now := p.now().UTC()
	a := &attempt{p: p, v: v, id: vodfc.NewSortableID(now), log: log}
	a.log = log.With("attempt", a.id)
	err = p.store.ClaimProcessing(ctx, id, videos.Claim{Attempt: a.id, Request: runtime.RequestID(ctx), At: now, Replaces: replaces})
	if errors.Is(err, videos.ErrClaimLost) {
		log.InfoContext(ctx, "nothing to do: another delivery of the event claimed the video first")
		return nil
	}
	if err != nil {
		return fmt.Errorf("claiming video %s: %w", id, err)
	}
	a.log.InfoContext(ctx, "processing claimed", "retry", runtime.RetryCount(ctx))
	return a.run(ctx)
}

// attempt is one claimed processing run.
type attempt struct {
	p   *Processor
	v   *vodfc.Video
	id  string
	log *slog.Logger
	dir string
	// stages records how long each step took, for the log line that ends the attempt.
	stages []any
	mark   time.Time
}

// stage closes the step that began at the previous mark under name.
func (a *attempt) stage(name string) {
	now := a.p.now()
	if !a.mark.IsZero() {
		a.stages = append(a.stages, name+"_ms", now.Sub(a.mark).Milliseconds())
	}
	a.mark = now
}

func (a *attempt) prefix() string { return vodfc.VideoMediaPrefix(a.v.ID, a.id) }

func (a *attempt) run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := a.p.now()
	res, err := a.process(ctx, cancel)
	// Writes that end the attempt must happen even when ctx ended (a timeout).
	bg := context.WithoutCancel(ctx)
	if a.dir != "" {
		if rmErr := os.RemoveAll(a.dir); rmErr != nil {
			a.log.WarnContext(bg, "removing the work directory failed", "err", rmErr)
		}
	}
	if err == nil {
		a.log.InfoContext(bg, "published", append([]any{"renditions", len(res.Rungs), "duration", res.Duration.String(),
			"took", a.p.now().Sub(start).Round(time.Millisecond).String()}, a.stages...)...)
		return nil
	}
	if errors.Is(err, videos.ErrClaimLost) || errors.Is(context.Cause(ctx), videos.ErrClaimLost) {
		a.log.WarnContext(bg, "stopped: the claim was lost (the video was deleted or another attempt took it over)")
		a.discardMedia(bg)
		return nil
	}
	if errors.Is(err, errSourceGone) {
		a.log.WarnContext(bg, "the source is gone (replaced or deleted after the event was sent); releasing the claim for the next upload")
		if rerr := a.p.store.Release(bg, a.v.ID, a.id, a.p.now().UTC()); rerr != nil && !errors.Is(rerr, videos.ErrClaimLost) {
			return rerr
		}
		return nil
	}
	if e := vodfc.As(err); e.Kind == vodfc.KindInvalid && e.Code != "" {
		return a.refuse(bg, e)
	}
	if vodfc.IsCode(err, "transcode_timeout") && ctx.Err() == nil {
		// Our own limit, far above what a video within the limits needs: a retry would spend
		// the same hours again.
		return a.refuse(bg, &vodfc.Error{Kind: vodfc.KindInvalid, Code: ffmpeg.CodeTooLong,
			Message: fmt.Sprintf("encoding the video takes longer than the transcoder allows (%s)", a.p.cfg.Timeout), Cause: err})
	}
	if runtime.RetryCount(ctx) >= a.p.cfg.MaxRetries {
		a.log.ErrorContext(bg, "processing failed on the last delivery; failing the video", "err", err)
		return a.refuse(bg, &vodfc.Error{Kind: vodfc.KindInvalid, Code: CodeProcessingFailed, Message: "processing failed", Cause: err})
	}
	a.log.ErrorContext(bg, "processing failed; releasing the claim for a retry", "err", err)
	a.discardMedia(bg)
	if rerr := a.p.store.Release(bg, a.v.ID, a.id, a.p.now().UTC()); rerr != nil && !errors.Is(rerr, videos.ErrClaimLost) {
		a.log.ErrorContext(bg, "releasing the claim failed; the claim expires after the claim TTL", "err", rerr)
	}
	return err
}

// refuse ends the video as failed with e's code and deletes its source and whatever the
// attempt uploaded.
func (a *attempt) refuse(ctx context.Context, e *vodfc.Error) error {
	a.log.WarnContext(ctx, "upload refused", "code", e.Code, "reason", e.Message, "cause", e.Cause)
	a.discardMedia(ctx)
	if err := a.p.store.Fail(ctx, a.v.ID, a.id, e.Code, a.p.now().UTC()); err != nil {
		if errors.Is(err, videos.ErrClaimLost) {
			a.log.WarnContext(ctx, "the claim was lost before the failure could be recorded")
			return nil
		}
		return fmt.Errorf("recording the failure of video %s: %w", a.v.ID, err)
	}
	if err := a.p.media.Delete(ctx, vodfc.SourceKey(a.v.ID)); err != nil {
		return fmt.Errorf("deleting the refused source of video %s: %w", a.v.ID, err)
	}
	return nil
}

func (a *attempt) discardMedia(ctx context.Context) {
	if n, err := a.p.media.DeletePrefix(ctx, a.prefix()); err != nil {
		a.log.WarnContext(ctx, "deleting the attempt's outputs failed; cleanup removes orphaned attempt prefixes", "err", err)
	} else if n > 0 {
		a.log.InfoContext(ctx, "deleted the attempt's outputs", "objects", n)
	}
}

// errSourceGone: the event's object no longer exists; a new upload sends a new event.
var errSourceGone = errors.New("transcode: the source object is gone")

func refusal(code, format string, args ...any) error {
	return &vodfc.Error{Kind: vodfc.KindInvalid, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Progress is reported in stages: the download and probe take the first 5 %, the encode up
// to 95 %, the upload the rest; 100 is written by Publish.
const (
	progressProbed  = 5
	progressEncoded = 95
)

func (a *attempt) process(ctx context.Context, cancel context.CancelCauseFunc) (*ffmpeg.Result, error) {
	p, v := a.p, a.v
	key := vodfc.SourceKey(v.ID)
	a.stage("")
	obj, err := p.media.Head(ctx, key)
	if oss.IsNotFound(err) {
		return nil, errSourceGone
	}
	if err != nil {
		return nil, err
	}
	switch {
	case obj.Size == 0:
		return nil, refusal(ffmpeg.CodeNotAVideo, "the file is empty")
	case obj.Size != v.DeclaredSize:
		return nil, refusal(CodeSizeMismatch, "the file has %d bytes; %d were declared", obj.Size, v.DeclaredSize)
	case obj.Size > p.cfg.MaxDisk/2:
		return nil, refusal(ffmpeg.CodeTooLarge, "the file has %d bytes; the transcoder takes at most %d", obj.Size, p.cfg.MaxDisk/2)
	}

	a.dir = filepath.Join(p.cfg.WorkDir, workDirPrefix+strconv.Itoa(os.Getpid()), a.id)
	if err := os.MkdirAll(a.dir, 0o700); err != nil {
		return nil, vodfc.Internal(err)
	}
	src := filepath.Join(a.dir, "source") // never the object key: it is the client's choice
	if err := p.media.GetToFile(ctx, key, src); err != nil {
		return nil, fmt.Errorf("downloading the source: %w", err)
	}
	a.stage("download")
	m, err := p.tools.Probe(ctx, src)
	if err != nil {
		return nil, err
	}
	if err := ffmpeg.Validate(m, p.cfg.Limits); err != nil {
		return nil, err
	}
	ladder, err := ffmpeg.PlanLadder(m, p.cfg.Ladder)
	if err != nil {
		return nil, err
	}
	// Outputs at their peak rates plus slack for containers, cover and storyboard: refuse what
	// cannot fit before spending an encode on it.
	var bps int64
	for _, r := range ladder {
		bps += int64(r.VideoBitrate + r.AudioBitrate)
	}
	estimate := int64(float64(bps)/8*m.Duration.Seconds()*1.25) + 16<<20
	if obj.Size+estimate > p.cfg.MaxDisk {
		return nil, refusal(ffmpeg.CodeTooLarge, "its renditions would need about %d MB; the transcoder has %d MB", (obj.Size+estimate)>>20, p.cfg.MaxDisk>>20)
	}
	if err := p.store.SetProgress(ctx, v.ID, a.id, progressProbed, p.now().UTC()); err != nil {
		return nil, err
	}
	a.stage("probe")

	opts := p.cfg.Encode
	opts.MaxOutputBytes = p.cfg.MaxDisk - obj.Size
	report := ffmpeg.Throttle(p.cfg.ProgressInterval, func(pr ffmpeg.Progress) {
		if pr.Done {
			return
		}
		pct := progressProbed + int(pr.Percent*(progressEncoded-progressProbed)/100)
		if err := p.store.SetProgress(ctx, v.ID, a.id, pct, p.now().UTC()); errors.Is(err, videos.ErrClaimLost) {
			cancel(err) // stop ffmpeg: the video was deleted or taken over
		} else if err != nil {
			a.log.WarnContext(ctx, "writing progress failed", "err", err)
		}
	})
	out := filepath.Join(a.dir, "out")
	res, err := p.tools.Transcode(ctx, src, out, m, ladder, opts, report)
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, videos.ErrClaimLost) {
			return nil, cause
		}
		return nil, err
	}
	a.stage("encode")
	// The source copy is not needed any more; free the disk before uploading.
	os.Remove(src)
	if err := p.store.SetProgress(ctx, v.ID, a.id, progressEncoded, p.now().UTC()); err != nil {
		return nil, err
	}
	if err := a.upload(ctx, out, res); err != nil {
		return nil, err
	}
	a.stage("upload")
	if err := p.store.Publish(ctx, v.ID, a.id, a.published(res), p.now().UTC()); err != nil {
		return nil, err
	}
	a.stage("publish")
	if !p.cfg.KeepSource {
		if err := p.media.Delete(ctx, key); err != nil {
			a.log.WarnContext(ctx, "deleting the published source failed; it stays until cleanup", "err", err)
		}
	}
	return res, nil
}

// upload stores every output under the attempt's prefix, a few at a time. The objects are
// immutable (a new attempt writes a new prefix), so they may be cached for ever; their
// metadata names the video and attempt, which lets cleanup tell orphaned prefixes apart.
func (a *attempt) upload(ctx context.Context, dir string, res *ffmpeg.Result) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	files := make(chan ffmpeg.File)
	errs := make(chan error, len(res.Files)+1)
	var wg sync.WaitGroup
	for range max(a.p.cfg.UploadWorkers, 1) {
		wg.Go(func() {
			for f := range files {
				err := a.p.media.PutFile(ctx, a.prefix()+f.Name, filepath.Join(dir, f.Name), oss.PutOptions{
					ContentType: f.ContentType, CacheControl: "public, max-age=31536000, immutable",
					Meta: map[string]string{"video": a.v.ID, "attempt": a.id},
				})
				if err != nil {
					errs <- fmt.Errorf("uploading %s: %w", f.Name, err)
					cancel()
				}
			}
		})
	}
	for _, f := range res.Files {
		if f.Name != path.Base(f.Name) {
			errs <- vodfc.Internal(fmt.Errorf("output name %q is not a plain file name", f.Name))
			break
		}
		select {
		case files <- f:
		case <-ctx.Done():
		}
	}
	close(files)
	wg.Wait()
	close(errs)
	return <-errs // nil when the channel is empty
}

func (a *attempt) published(res *ffmpeg.Result) videos.Published {
	pre := a.prefix()
	out := videos.Published{Duration: res.Duration, MediaPrefix: pre}
	for _, r := range res.Rungs {
		out.Renditions = append(out.Renditions, vodfc.Rendition{
			Height: r.Height, Width: r.Width, Bandwidth: int(r.Bandwidth), AvgBandwidth: int(r.AverageBandwidth),
			Codecs: strings.Join(r.Codecs, ","), FrameRate: r.FrameRate,
			Playlist: pre + r.Playlist, Media: pre + r.MediaFile, Size: r.Size,
		})
	}
	if len(res.Rungs) > 0 {
		out.Width, out.Height = res.Rungs[0].Width, res.Rungs[0].Height
	}
	if res.Cover != "" {
		out.CoverKey = pre + res.Cover
	}
	if sb := res.Storyboard; sb != nil && len(sb.Images) > 0 {
		out.StoryboardKey = pre + sb.Images[0]
		out.StoryboardVTT = pre + sb.VTT
	}
	return out
}

// workDirPrefix names each process's work directory, WorkDir/vodfc-transcode-{pid}: a process
// that dies leaves its directory behind, which CleanStale removes.
const workDirPrefix = "vodfc-transcode-"

// CleanStale removes the work directories of transcoder processes that no longer run (killed
// by a timeout or a crash in an instance FC keeps). Call it once at start-up.
func CleanStale(workDir string) (removed int, err error) {
	entries, err := os.ReadDir(workDir)
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pidStr, ok := strings.CutPrefix(e.Name(), workDirPrefix)
		pid, perr := strconv.Atoi(pidStr)
		if !ok || perr != nil || !e.IsDir() || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(workDir, e.Name())); err != nil {
			return removed, err
		}
		removed++
	}
	return removed, nil
}
