package danmaku

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/engagement"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/redis"
)

// Register adds the danmaku routes (docs/openapi.yaml, x-function danmaku) to r.
func (s *Service) Register(r *httpapi.Router, v httpapi.TokenVerifier) {
	auth, opt := httpapi.RequireAuth(v), httpapi.OptionalAuth(v)
	r.HandleFunc("POST /api/v1/videos/{id}/danmaku", s.handlePost, auth, httpapi.MaxBody(2<<10))
	r.HandleFunc("GET /api/v1/videos/{id}/danmaku", s.handleSegment, opt)
	r.HandleFunc("GET /api/v1/videos/{id}/danmaku.xml", s.handleXML, opt)
	r.HandleFunc("GET /api/v1/videos/{id}/danmaku/heatmap", s.handleHeatmap, opt)
	r.HandleFunc("DELETE /api/v1/danmaku/{did}", s.handleRecall, auth)
	r.HandleFunc("POST /api/v1/danmaku/{did}/report", s.handleReport, auth, httpapi.MaxBody(2<<10))
	// DPlayer's v3 API: its reads carry no token (public videos only); its posts carry the
	// access token in the body, since DPlayer sends no Authorization header.
	r.HandleFunc("GET /api/v1/dplayer/v3/{$}", s.handleDPlayerGet(v))
	r.HandleFunc("POST /api/v1/dplayer/v3/{$}", s.handleDPlayerPost(v))
}

func userOf(r *http.Request) string {
	p, _ := httpapi.PrincipalFrom(r.Context())
	return p.UserID
}

// PostAnswer is the answer to a post.
type PostAnswer struct {
	Item
	VideoID string `json:"video_id"`
	Segment int64  `json:"segment"`
}

func (s *Service) handlePost(w http.ResponseWriter, r *http.Request) {
	var in Input
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	d, err := s.Post(r.Context(), userOf(r), r.PathValue("id"), in)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, PostAnswer{Item: d.Item(), VideoID: d.VideoID, Segment: Segment(d.TimeMS)})
}

// writeRendered answers a cached output with its validators: a request whose If-None-Match
// names the current ETag gets 304 and no body.
func (s *Service) writeRendered(w http.ResponseWriter, r *http.Request, out rendered, info *engagement.VideoInfo, contentType string) {
	h := w.Header()
	h.Set("ETag", out.etag)
	h.Set("Cache-Control", s.cacheControl(info))
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, out.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(out.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(out.body)
	}
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

func (s *Service) handleSegment(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("segment")
	seg := int64(1)
	if raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			httpapi.WriteError(w, r, invalid("invalid_segment", "segment", "segment is a positive integer"))
			return
		}
		seg = n
	}
	out, info, err := s.SegmentJSON(r.Context(), userOf(r), r.PathValue("id"), seg)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	s.writeRendered(w, r, out, info, "application/json")
}

func (s *Service) handleXML(w http.ResponseWriter, r *http.Request) {
	out, info, err := s.XML(r.Context(), userOf(r), r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	s.writeRendered(w, r, out, info, "text/xml; charset=utf-8")
}

func (s *Service) handleHeatmap(w http.ResponseWriter, r *http.Request) {
	bucket := int64(10)
	if raw := r.URL.Query().Get("bucket_s"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			httpapi.WriteError(w, r, invalid("invalid_bucket", "bucket_s", "bucket_s is 1 to 600 seconds"))
			return
		}
		bucket = n
	}
	out, info, err := s.Heatmap(r.Context(), userOf(r), r.PathValue("id"), bucket)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	s.writeRendered(w, r, out, info, "application/json")
}

func (s *Service) handleRecall(w http.ResponseWriter, r *http.Request) {
	if err := s.Recall(r.Context(), userOf(r), r.PathValue("did")); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ReportInput is the body of a report (optional).
type ReportInput struct {
	Reason string `json:"reason"`
}

func (s *Service) handleReport(w http.ResponseWriter, r *http.Request) {
	var in ReportInput
	if r.ContentLength != 0 {
		if err := httpapi.DecodeJSON(w, r, &in); err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
	}
	if err := s.Report(r.Context(), userOf(r), r.PathValue("did"), in.Reason); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusAccepted, struct {
		Reported bool `json:"reported"`
	}{true})
}

// DPlayer answers: {"code":0,"data":...} or {"code":1,"msg":...}. Failures keep their HTTP
// status (and Retry-After), so caches and proxies treat them as failures; DPlayer reads msg.
func writeDPlayerError(w http.ResponseWriter, r *http.Request, err error) {
	e := vodfc.As(err)
	msg := e.Message
	if e.Kind == vodfc.KindInternal || e.Kind == vodfc.KindUnavailable {
		msg = "the danmaku service is unavailable, try again"
		slog.ErrorContext(r.Context(), "dplayer request failed", "code", e.Code, "err", e.Cause)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(redis.RetryAfterSeconds(e.RetryAfter)))
	}
	httpapi.WriteJSON(w, httpapi.StatusOf(e.Kind), struct {
		Code   int    `json:"code"`
		Msg    string `json:"msg"`
		Reason string `json:"reason"`
	}{1, msg, e.Code})
}

const (
	dplayerDefaultMax = 1000
	dplayerMaxCap     = 10000
)

func (s *Service) handleDPlayerGet(v httpapi.TokenVerifier) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		id := q.Get("id")
		max := dplayerDefaultMax
		// DPlayer sends max (its option "maximum", "undefined" when unset); its reference
		// server reads limit. Both are accepted.
		raw := q.Get("max")
		if raw == "" || raw == "undefined" {
			raw = q.Get("limit")
		}
		if raw != "" && raw != "undefined" {
			n, err := strconv.Atoi(raw)
			if err != nil || n < 1 {
				writeDPlayerError(w, r, invalid("invalid_max", "max", "max is a positive number of danmaku"))
				return
			}
			max = min(n, dplayerMaxCap)
		}
		viewer := ""
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			p, err := v.VerifyAccessToken(tok)
			if err != nil {
				writeDPlayerError(w, r, err)
				return
			}
			viewer = p.UserID
		}
		out, info, err := s.DPlayer(r.Context(), viewer, id, max)
		if err != nil {
			writeDPlayerError(w, r, err)
			return
		}
		s.writeRendered(w, r, out, info, "application/json")
	}
}

// dplayerPost is DPlayer's post body. Unknown fields are ignored: this is another program's
// protocol, and newer players may add some.
type dplayerPost struct {
	Token  string          `json:"token"`
	ID     string          `json:"id"`
	Author string          `json:"author"`
	Time   *float64        `json:"time"`
	Text   string          `json:"text"`
	Color  json.RawMessage `json:"color"`
	Type   *int            `json:"type"`
}

func (s *Service) handleDPlayerPost(v httpapi.TokenVerifier) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<10))
		if err != nil {
			writeDPlayerError(w, r, vodfc.E(vodfc.KindTooLarge, "body_too_large", "the body is too large"))
			return
		}
		var in dplayerPost
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&in); err != nil {
			writeDPlayerError(w, r, vodfc.Invalid("invalid_json", "the body is not DPlayer's JSON"))
			return
		}
		tok := in.Token
		if h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			tok = h
		}
		if tok == "" {
			writeDPlayerError(w, r, vodfc.Unauthorized("authentication_required", "sign in to send danmaku"))
			return
		}
		p, err := v.VerifyAccessToken(tok)
		if err != nil {
			writeDPlayerError(w, r, err)
			return
		}
		din := Input{Text: in.Text, Size: Normal}
		if in.Time != nil && !math.IsNaN(*in.Time) && !math.IsInf(*in.Time, 0) {
			ms := int64(math.Round(*in.Time * 1000))
			din.TimeMS = &ms
		}
		mode, ok := Scroll, true
		if in.Type != nil {
			mode, ok = modeOfDPlayer(*in.Type)
		}
		if !ok {
			writeDPlayerError(w, r, invalid("invalid_mode", "type", "type is 0 (scroll), 1 (top) or 2 (bottom)"))
			return
		}
		din.Mode = mode
		color, err := dplayerColor(in.Color)
		if err != nil {
			writeDPlayerError(w, r, err)
			return
		}
		din.Color = color
		d, err := s.Post(r.Context(), p.UserID, in.ID, din)
		if err != nil {
			writeDPlayerError(w, r, err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, struct {
			Code int        `json:"code"`
			Data PostAnswer `json:"data"`
		}{0, PostAnswer{Item: d.Item(), VideoID: d.VideoID, Segment: Segment(d.TimeMS)}})
	}
}

// dplayerColor reads DPlayer's colour: a decimal RGB number (what DPlayer sends), or a
// "#rrggbb" / "#rgb" string (what some forks send).
func dplayerColor(raw json.RawMessage) (string, error) {
	bad := invalid("invalid_color", "color", "color is a decimal RGB number or #RRGGBB")
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var n float64
	if json.Unmarshal(raw, &n) == nil {
		if n < 0 || n > 0xffffff || n != math.Trunc(n) {
			return "", bad
		}
		return "#" + leftPad(strconv.FormatInt(int64(n), 16), 6), nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", bad
	}
	if len(s) == 4 && s[0] == '#' {
		s = "#" + strings.Repeat(s[1:2], 2) + strings.Repeat(s[2:3], 2) + strings.Repeat(s[3:4], 2)
	}
	if !colorPattern.MatchString(s) {
		return "", bad
	}
	return s, nil
}

func leftPad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}
