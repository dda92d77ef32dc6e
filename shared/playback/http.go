package playback

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/ffmpeg/hls"
	"vodfc.dev/vodfc/httpapi"
)

// Register adds the playback routes to r: the play route under /api/v1/videos/ (served by the
// function owning that prefix) and the playlists under cfg.Path. verify proves access tokens
// on the play route; the playlists are authorised by their playback token alone, because
// players cannot send Authorization headers.
func (s *Service) Register(r *httpapi.Router, verify httpapi.TokenVerifier) {
	p := s.cfg.Path
	r.HandleFunc("GET /api/v1/videos/{id}/play", s.handlePlay, httpapi.OptionalAuth(verify))
	r.HandleFunc("GET "+p+"/{id}/master.m3u8", s.handleMaster)
	r.HandleFunc("GET "+p+"/{id}/storyboard.vtt", s.handleStoryboard, httpapi.OptionalAuth(verify))
	r.HandleFunc("GET "+p+"/{id}/{variant}", s.handleVariant)
}

const (
	playlistType = "application/vnd.apple.mpegurl"
	vttType      = "text/vtt; charset=utf-8"
)

func (s *Service) handlePlay(w http.ResponseWriter, r *http.Request) {
	viewer, _ := httpapi.PrincipalFrom(r.Context())
	play, err := s.Start(r.Context(), r.PathValue("id"), viewer, s.baseURL(r))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "private, no-store")
	httpapi.WriteJSON(w, http.StatusOK, play)
}

// Master renders the master playlist for the holder of token t.
func (s *Service) Master(ctx context.Context, t Token, v *vodfc.Video) ([]byte, error) {
	sel, err := s.selection(ctx, v, t.Tier)
	if err != nil {
		return nil, err
	}
	if len(sel.Playable) == 0 {
		return nil, vodfc.E(vodfc.KindUnavailable, "renditions_unavailable", "no rendition can be played right now")
	}
	_, session := s.session(t)
	m := &hls.Master{IndependentSegments: true}
	for _, i := range sel.Playable {
		r := v.Renditions[i]
		m.Variants = append(m.Variants, hls.Variant{
			URI:       renditionName(r) + ".m3u8?token=" + session, // relative: resolved against the master's URL
			Bandwidth: int64(r.Bandwidth), AverageBandwidth: int64(r.AvgBandwidth),
			Codecs: strings.Split(r.Codecs, ","), Width: r.Width, Height: r.Height, FrameRate: r.FrameRate,
		})
	}
	return m.Encode()
}

func (s *Service) handleMaster(w http.ResponseWriter, r *http.Request) {
	t, v, err := s.authorize(r.Context(), r.PathValue("id"), r.URL.Query().Get("token"))
	if err == nil && t.Session {
		err = errInvalidToken(errors.New("a session token on a master playlist"))
	}
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	b, err := s.Master(r.Context(), t, v)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	writeBody(w, playlistType, b)
}

// Variant renders rendition name's playlist for the holder of token t, its media URI signed
// until the token expires.
func (s *Service) Variant(ctx context.Context, t Token, v *vodfc.Video, name string) ([]byte, error) {
	idx := slices.IndexFunc(v.Renditions, func(r vodfc.Rendition) bool { return renditionName(r) == name })
	if idx < 0 {
		return nil, vodfc.NotFound("rendition_not_found", "the video has no such rendition")
	}
	sel, err := s.selection(ctx, v, t.Tier)
	if err != nil {
		return nil, err
	}
	switch {
	case slices.Contains(sel.MembersOnly, idx):
		return nil, vodfc.Forbidden("members_only", "this rendition is for members")
	case slices.Contains(sel.Unavailable, idx):
		return nil, &vodfc.Error{Kind: vodfc.KindUnavailable, Code: "rendition_unavailable",
			Message: "this rendition is being restored from cold storage", RetryAfter: 5 * time.Minute}
	}
	r := v.Renditions[idx]
	raw, err := s.object(ctx, r.Playlist)
	if err != nil {
		return nil, err
	}
	pl, err := hls.ParseMedia(bytes.NewReader(raw))
	if err != nil {
		return nil, vodfc.Internal(fmt.Errorf("stored playlist %s: %w", r.Playlist, err))
	}
	dir := path.Dir(r.Playlist)
	err = pl.RewriteURIs(func(uri string) (string, error) {
		// Stored playlists name their media file relative to themselves; anything else is not
		// one of ours and is never signed.
		if uri != path.Base(uri) || uri == ".." || uri == "." {
			return "", fmt.Errorf("stored playlist %s refers to %q", r.Playlist, uri)
		}
		return s.signer.SignGet(dir+"/"+uri, t.Expires)
	})
	if err != nil {
		return nil, vodfc.Internal(err)
	}
	return pl.Encode()
}

func (s *Service) handleVariant(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(r.PathValue("variant"), ".m3u8")
	if !ok || name == "" {
		httpapi.WriteError(w, r, vodfc.NotFound("not_found", "no such playlist"))
		return
	}
	t, v, err := s.authorize(r.Context(), r.PathValue("id"), r.URL.Query().Get("token"))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	b, err := s.Variant(r.Context(), t, v, name)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	writeBody(w, playlistType, b)
}

// spriteRE matches the image a storyboard cue points at, as ffmpeg's storyboard writes it.
var spriteRE = regexp.MustCompile(`^(storyboard-[0-9]+\.jpg)(#xywh=[0-9]+,[0-9]+,[0-9]+,[0-9]+)$`)

// Storyboard renders the video's WebVTT thumbnail track with signed sprite URLs valid until
// expires.
func (s *Service) Storyboard(ctx context.Context, v *vodfc.Video, expires time.Time) ([]byte, error) {
	if v.StoryboardVTT == "" {
		return nil, vodfc.NotFound("storyboard_not_found", "the video has no storyboard")
	}
	raw, err := s.object(ctx, v.StoryboardVTT)
	if err != nil {
		return nil, err
	}
	dir := path.Dir(v.StoryboardVTT)
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(raw))
	signed := map[string]string{}
	for sc.Scan() {
		line := sc.Text()
		if m := spriteRE.FindStringSubmatch(line); m != nil {
			u, ok := signed[m[1]]
			if !ok {
				if u, err = s.signer.SignGet(dir+"/"+m[1], expires); err != nil {
					return nil, err
				}
				signed[m[1]] = u
			}
			line = u + m[2]
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, vodfc.Internal(err)
	}
	return out.Bytes(), nil
}

func (s *Service) handleStoryboard(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var (
		v       *vodfc.Video
		expires time.Time
		err     error
	)
	if tok := r.URL.Query().Get("token"); tok != "" {
		var t Token
		t, v, err = s.authorize(r.Context(), id, tok)
		expires = t.Expires
	} else {
		viewer, _ := httpapi.PrincipalFrom(r.Context())
		v, err = s.watchable(r.Context(), id, viewer.UserID)
		expires = s.now().Add(s.cfg.SessionTTL)
	}
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	b, err := s.Storyboard(r.Context(), v, expires)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	writeBody(w, vttType, b)
}

// writeBody answers a playlist or track. They carry signed URLs for one viewer, so shared
// caches must not keep them; the viewer's own player may for a minute.
func writeBody(w http.ResponseWriter, contentType string, b []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "private, max-age=60")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
