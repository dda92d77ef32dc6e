package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"vodfc.dev/local/ossemu"
	"vodfc.dev/local/otsemu"
	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/httpapi/apidoc"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/playback"
	"vodfc.dev/vodfc/redis"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

// The function's handler is tested in-process against the Tablestore and OSS emulators
// through the real SDKs; presigned URLs go to the OSS emulator over loopback, as a browser's
// would. The end-to-end path through the local cloud is in functions/transcode.

var (
	api    *httptest.Server
	store  *videos.Store
	media  *oss.Store
	signer *auth.Signer
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	creds := func() (runtime.Credentials, bool) {
		return runtime.Credentials{AccessKeyID: "ak", AccessKeySecret: "sk"}, true
	}
	ots, err := otsemu.Open(otsemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", Instance: "vodfc"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer ots.Close()
	tables := tablestore.Config{Endpoint: "http://ots.local", Instance: "vodfc", Transport: ots.Transport(), Credentials: creds}
	db, err := tablestore.New(tables)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := db.Ensure(context.Background(), tablestore.Schema); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, _ := os.MkdirTemp("", "videos-test-")
	defer os.RemoveAll(dir)
	emu, err := ossemu.Open(ossemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", DataDir: dir, Buckets: []string{"media"}, NoSync: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer emu.Close()
	ossSrv := httptest.NewServer(emu)
	defer ossSrv.Close()
	if media, err = oss.New(oss.Config{Endpoint: ossSrv.URL, Bucket: "media", Region: "cn-hangzhou", Credentials: creds}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	store = videos.NewStore(db)

	sk, vk, _ := auth.GenerateKey()
	env := map[string]string{
		"JWT_SIGNING_KEY": sk, "JWT_VERIFY_KEYS": vk, "JWT_ISSUER": "https://test", "JWT_AUDIENCE": "vodfc-api",
		"VIDEOS_MULTIPART_THRESHOLD": "1MiB", "VIDEOS_PART_SIZE": "512KiB", "CORS_ORIGINS": "*",
		"PLAYBACK_TOKEN_KEY": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, playback.MinKeyBytes)),
	}
	getenv := func(k string) string { return env[k] }
	signer, _ = auth.LoadSigner(getenv)
	c := config{tables: tables}
	if c.playback, err = playback.LoadEnv(getenv); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if c.videos, err = videos.ConfigFromEnv(getenv); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if c.verifier, err = auth.LoadVerifier(getenv); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c.corsOrigins = []string{"*"}
	rdb := miniredis.NewMiniRedis()
	if err := rdb.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer rdb.Close()
	if router, err = newRouter(c, db, media, redis.New(redis.Config{Addr: rdb.Addr()})); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	api = httptest.NewServer(router)
	defer api.Close()
	// /api/v1/users/{id}/videos is the videos feature's too, served by the users function
	// (FC routes /api/v1/users/* there); the feature unscoped serves it here for its tests.
	whole := httpapi.NewRouter()
	videos.NewService(store, media, c.videos).Register(whole, c.verifier)
	wholeAPI = httptest.NewServer(whole)
	defer wholeAPI.Close()
	return m.Run()
}

var (
	router   *httpapi.Router
	wholeAPI *httptest.Server // the videos feature without the function's scope
)

// --------------------------------------------------------------------------- helpers

type client struct {
	id, token string
}

func newClient(t *testing.T, tier vodfc.Tier) client {
	t.Helper()
	id := vodfc.NewID()
	tok, _, err := signer.IssueAccess(id, tier, nil)
	if err != nil {
		t.Fatal(err)
	}
	return client{id: id, token: tok}
}

var nobody = client{}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) code() string {
	var p struct{ Code string }
	json.Unmarshal(r.body, &p)
	return p.Code
}

func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
}

func (c client) do(t *testing.T, method, path string, body any) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, api.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func want(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.status != status || (code != "" && r.code() != code) {
		t.Fatalf("got %d %s, want %d %s", r.status, r.body, status, code)
	}
}

type view struct {
	ID          string   `json:"id"`
	Owner       string   `json:"owner"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
	Visibility  string   `json:"visibility"`
	Status      string   `json:"status"`
	Progress    int      `json:"progress"`
	FailureCode string   `json:"failure_code"`
	CoverURL    string   `json:"cover_url"`
	PlayURL     string   `json:"play_url"`
}

type createReply struct {
	Video  view `json:"video"`
	Upload struct {
		Method    string            `json:"method"`
		URL       string            `json:"url"`
		Headers   map[string]string `json:"headers"`
		ExpiresAt time.Time         `json:"expires_at"`
		UploadID  string            `json:"upload_id"`
		PartSize  int64             `json:"part_size"`
		PartCount int               `json:"part_count"`
	} `json:"upload"`
}

func draft(size int64) map[string]any {
	return map[string]any{"title": "A video", "filename": "a.mp4", "size": size, "content_type": "video/mp4"}
}

func (c client) create(t *testing.T, body map[string]any) createReply {
	t.Helper()
	r := c.do(t, "POST", "/api/v1/videos", body)
	want(t, r, http.StatusCreated, "")
	var out createReply
	r.decode(t, &out)
	return out
}

// publish makes a video ready as the transcoder would, with one made-up rendition.
func publish(t *testing.T, id string) {
	t.Helper()
	ctx := context.Background()
	attempt := vodfc.NewSortableID(time.Now())
	if err := store.ClaimProcessing(ctx, id, videos.Claim{Attempt: attempt, Request: "r", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	pre := vodfc.VideoMediaPrefix(id, attempt)
	if err := media.Put(ctx, pre+"cover.jpg", strings.NewReader("\xff\xd8jpeg"), oss.PutOptions{ContentType: "image/jpeg"}); err != nil {
		t.Fatal(err)
	}
	err := store.Publish(ctx, id, attempt, videos.Published{Duration: 10 * time.Second, Width: 640, Height: 360, MediaPrefix: pre,
		CoverKey: pre + "cover.jpg", StoryboardVTT: pre + "storyboard.vtt",
		Renditions: []vodfc.Rendition{{Height: 360, Width: 640, Bandwidth: 500000, Codecs: "avc1.64001e,mp4a.40.2", Playlist: pre + "360p.m3u8", Media: pre + "360p.mp4"}}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
}

// --------------------------------------------------------------------------- tests

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	apidoc.Check(t, "../../docs/openapi.yaml", "videos", router.Routes())
}

func TestCreateNeedsAnAccessToken(t *testing.T) {
	want(t, nobody.do(t, "POST", "/api/v1/videos", draft(1000)), http.StatusUnauthorized, "authentication_required")
}

func TestCreateRefusesADeclaredSizeOverTheLimit(t *testing.T) {
	c := newClient(t, vodfc.TierFree)
	want(t, c.do(t, "POST", "/api/v1/videos", draft(4<<30+1)), http.StatusBadRequest, "file_too_large")
	want(t, c.do(t, "POST", "/api/v1/videos", draft(0)), http.StatusBadRequest, "invalid_field")
}

func TestCreateRefusesNonVideoContentTypes(t *testing.T) {
	c := newClient(t, vodfc.TierFree)
	for _, ct := range []string{"text/plain", "application/x-mpegurl", "image/png", "video/", "", "video"} {
		d := draft(1000)
		d["content_type"] = ct
		want(t, c.do(t, "POST", "/api/v1/videos", d), http.StatusBadRequest, "not_a_video_type")
	}
	d := draft(1000)
	d["content_type"] = "Video/QuickTime; codecs=avc1"
	if out := c.create(t, d); out.Upload.Headers["Content-Type"] != "video/quicktime" {
		t.Fatalf("content type not normalised: %+v", out.Upload)
	}
}

func TestCreateRefusesBadMetadata(t *testing.T) {
	c := newClient(t, vodfc.TierFree)
	for field, value := range map[string]any{
		"title": "", "visibility": "friends", "filename": "", "tags": []string{strings.Repeat("x", 25)},
		"description": strings.Repeat("d", 5001),
	} {
		d := draft(1000)
		d[field] = value
		r := c.do(t, "POST", "/api/v1/videos", d)
		want(t, r, http.StatusBadRequest, "invalid_field")
		if !strings.Contains(string(r.body), `"field":"`+field+`"`) {
			t.Errorf("%s: the problem does not name the field: %s", field, r.body)
		}
	}
	d := draft(1000)
	d["owner_id"] = "someone-else"
	want(t, c.do(t, "POST", "/api/v1/videos", d), http.StatusBadRequest, "unknown_field")
}

func TestSmallFilesGetOnePresignedPUT(t *testing.T) {
	c := newClient(t, vodfc.TierFree)
	out := c.create(t, draft(1000))
	u := out.Upload
	if u.Method != "PUT" || u.Headers["Content-Type"] != "video/mp4" || time.Until(u.ExpiresAt) > 15*time.Minute {
		t.Fatalf("plan %+v", u)
	}
	if !strings.Contains(u.URL, "uploads%2F"+out.Video.ID+"%2Fsource") && !strings.Contains(u.URL, "uploads/"+out.Video.ID+"/source") {
		t.Fatalf("URL is not for the source key: %s", u.URL)
	}
	put := func() int {
		req, _ := http.NewRequest("PUT", u.URL, strings.NewReader("x"))
		for k, v := range u.Headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := put(); code != 200 {
		t.Fatalf("PUT: %d", code)
	}
	// The URL uploads once: what landed (and started processing) cannot be replaced.
	if code := put(); code != http.StatusConflict {
		t.Fatalf("second PUT: %d", code)
	}
	// A fresh plan for the same video when the first URL expired.
	r := c.do(t, "POST", "/api/v1/videos/"+out.Video.ID+"/upload", nil)
	want(t, r, http.StatusOK, "")
	// A single-PUT video has no multipart session to read.
	want(t, c.do(t, "GET", "/api/v1/videos/"+out.Video.ID+"/upload", nil), http.StatusConflict, "not_multipart")
}

func TestLargeFilesGetAMultipartPlan(t *testing.T) {
	c := newClient(t, vodfc.TierFree)
	out := c.create(t, draft(5<<20+1))
	if u := out.Upload; u.Method != "multipart" || u.UploadID == "" || u.PartSize != 512<<10 || u.PartCount != 11 || u.URL != "" {
		t.Fatalf("plan %+v", u)
	}
	id := out.Video.ID
	r := c.do(t, "POST", "/api/v1/videos/"+id+"/upload/parts", map[string]any{"numbers": []int{12}})
	want(t, r, http.StatusBadRequest, "invalid_field")
	r = c.do(t, "POST", "/api/v1/videos/"+id+"/upload/parts", map[string]any{"numbers": make([]int, 101)})
	want(t, r, http.StatusBadRequest, "invalid_field")
	// Completing before every part is there is refused with the part that is missing.
	parts := []map[string]any{}
	for n := 1; n <= 11; n++ {
		parts = append(parts, map[string]any{"number": n, "etag": "x"})
	}
	want(t, c.do(t, "POST", "/api/v1/videos/"+id+"/upload/complete", map[string]any{"parts": parts}), http.StatusBadRequest, "part_missing")
	want(t, c.do(t, "POST", "/api/v1/videos/"+id+"/upload/complete", map[string]any{"parts": parts[:3]}), http.StatusBadRequest, "invalid_field")

	// Abort, then the session is gone until a new plan is asked for.
	want(t, c.do(t, "DELETE", "/api/v1/videos/"+id+"/upload", nil), http.StatusNoContent, "")
	want(t, c.do(t, "GET", "/api/v1/videos/"+id+"/upload", nil), http.StatusConflict, "not_multipart")
	r = c.do(t, "POST", "/api/v1/videos/"+id+"/upload", nil)
	want(t, r, http.StatusOK, "")
	var again createReply
	r.decode(t, &again)
	if again.Upload.Method != "multipart" || again.Upload.UploadID == out.Upload.UploadID {
		t.Fatalf("new plan %+v", again.Upload)
	}
	r = c.do(t, "GET", "/api/v1/videos/"+id+"/upload", nil)
	want(t, r, http.StatusOK, "")
	var st struct {
		UploadID string `json:"upload_id"`
		Missing  []int  `json:"missing"`
	}
	r.decode(t, &st)
	if st.UploadID != again.Upload.UploadID || len(st.Missing) != 11 {
		t.Fatalf("state %+v", st)
	}
}

func TestMultipartCompleteRefusesPartsOfTheWrongSize(t *testing.T) {
	c := newClient(t, vodfc.TierFree)
	out := c.create(t, draft(1<<20+100<<10)) // parts of 512, 512 and 100 KiB
	id := out.Video.ID
	if out.Upload.PartCount != 3 {
		t.Fatalf("plan %+v", out.Upload)
	}
	r := c.do(t, "POST", "/api/v1/videos/"+id+"/upload/parts", map[string]any{"numbers": []int{1, 2, 3}})
	want(t, r, http.StatusOK, "")
	var urls struct {
		Parts []struct {
			Number int    `json:"number"`
			URL    string `json:"url"`
		} `json:"parts"`
	}
	r.decode(t, &urls)
	var parts []map[string]any
	for _, p := range urls.Parts {
		size := 512 << 10
		if p.Number == 3 {
			size = 50 << 10 // the plan says 100 KiB
		}
		req, _ := http.NewRequest("PUT", p.URL, bytes.NewReader(make([]byte, size)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("part %d: %v %v", p.Number, resp, err)
		}
		resp.Body.Close()
		parts = append(parts, map[string]any{"number": p.Number, "etag": strings.Trim(resp.Header.Get("ETag"), `"`)})
	}
	r = c.do(t, "POST", "/api/v1/videos/"+id+"/upload/complete", map[string]any{"parts": parts})
	want(t, r, http.StatusBadRequest, "part_mismatch")
	if !strings.Contains(string(r.body), "part 3") {
		t.Fatalf("the problem does not name the part: %s", r.body)
	}
	if ok, _ := media.Exists(context.Background(), vodfc.SourceKey(id)); ok {
		t.Fatal("a refused completion assembled the file")
	}
}

func TestOnlyTheOwnerSeesAVideoBeforeItIsReady(t *testing.T) {
	owner, other := newClient(t, vodfc.TierFree), newClient(t, vodfc.TierMember)
	id := owner.create(t, draft(1000)).Video.ID
	want(t, owner.do(t, "GET", "/api/v1/videos/"+id, nil), http.StatusOK, "")
	want(t, other.do(t, "GET", "/api/v1/videos/"+id, nil), http.StatusNotFound, "video_not_found")
	want(t, nobody.do(t, "GET", "/api/v1/videos/"+id, nil), http.StatusNotFound, "video_not_found")
	want(t, nobody.do(t, "GET", "/api/v1/videos/not-an-id", nil), http.StatusNotFound, "video_not_found")
	// Another user's upload is not theirs to touch.
	want(t, other.do(t, "POST", "/api/v1/videos/"+id+"/upload", nil), http.StatusNotFound, "video_not_found")
	want(t, other.do(t, "DELETE", "/api/v1/videos/"+id, nil), http.StatusNotFound, "video_not_found")
}

func TestVisibilityDecidesWhoSeesAReadyVideo(t *testing.T) {
	owner, other := newClient(t, vodfc.TierFree), newClient(t, vodfc.TierFree)
	id := owner.create(t, draft(1000)).Video.ID
	publish(t, id)
	r := nobody.do(t, "GET", "/api/v1/videos/"+id, nil)
	want(t, r, http.StatusOK, "")
	var v view
	r.decode(t, &v)
	if v.Status != "ready" || v.Progress != 100 || v.CoverURL == "" || v.PlayURL != "/api/v1/videos/"+id+"/play" {
		t.Fatalf("ready video %+v", v)
	}
	// Only the owner edits; others learn that, for a video they can see.
	want(t, other.do(t, "PATCH", "/api/v1/videos/"+id, map[string]any{"title": "mine now"}), http.StatusForbidden, "not_owner")
	want(t, other.do(t, "DELETE", "/api/v1/videos/"+id, nil), http.StatusForbidden, "not_owner")
	want(t, owner.do(t, "PATCH", "/api/v1/videos/"+id, map[string]any{}), http.StatusBadRequest, "nothing_to_change")

	r = owner.do(t, "PATCH", "/api/v1/videos/"+id, map[string]any{"visibility": "private", "tags": []string{" go ", "Go", "video"}})
	want(t, r, http.StatusOK, "")
	r.decode(t, &v)
	if v.Visibility != "private" || strings.Join(v.Tags, ",") != "go,video" {
		t.Fatalf("edited %+v", v)
	}
	want(t, other.do(t, "GET", "/api/v1/videos/"+id, nil), http.StatusNotFound, "video_not_found")
	want(t, owner.do(t, "GET", "/api/v1/videos/"+id, nil), http.StatusOK, "")

	want(t, owner.do(t, "PATCH", "/api/v1/videos/"+id, map[string]any{"visibility": "unlisted"}), http.StatusOK, "")
	want(t, nobody.do(t, "GET", "/api/v1/videos/"+id, nil), http.StatusOK, "")
}

// TestPatchChangesOnlyTheFieldsSent: title and description change, what is not sent stays,
// a bad value changes nothing, and a deleted video cannot be edited.
func TestPatchChangesOnlyTheFieldsSent(t *testing.T) {
	owner := newClient(t, vodfc.TierFree)
	d := draft(1000)
	d["tags"] = []string{"cats"}
	id := owner.create(t, d).Video.ID
	r := owner.do(t, "PATCH", "/api/v1/videos/"+id, map[string]any{"title": "  New title ", "description": "Line one\nline two"})
	want(t, r, http.StatusOK, "")
	var v view
	r.decode(t, &v)
	if v.Title != "New title" || v.Description != "Line one\nline two" || strings.Join(v.Tags, ",") != "cats" || v.Visibility != "public" {
		t.Fatalf("patched %+v", v)
	}
	for field, bad := range map[string]any{"visibility": "friends", "title": "", "tags": []string{"a,b"}} {
		r := owner.do(t, "PATCH", "/api/v1/videos/"+id, map[string]any{field: bad, "description": "not applied"})
		want(t, r, http.StatusBadRequest, "invalid_field")
		if !strings.Contains(string(r.body), `"field":"`+field+`"`) {
			t.Errorf("%s: the problem does not name the field: %s", field, r.body)
		}
	}
	owner.do(t, "GET", "/api/v1/videos/"+id, nil).decode(t, &v)
	if v.Description != "Line one\nline two" {
		t.Fatalf("a refused PATCH changed the video: %+v", v)
	}
	want(t, owner.do(t, "DELETE", "/api/v1/videos/"+id, nil), http.StatusNoContent, "")
	want(t, owner.do(t, "PATCH", "/api/v1/videos/"+id, map[string]any{"title": "back"}), http.StatusNotFound, "video_not_found")
}

func TestDeleteHidesTheVideoAtOnceAndAbortsItsUpload(t *testing.T) {
	owner := newClient(t, vodfc.TierFree)
	out := owner.create(t, draft(3<<20))
	id := out.Video.ID
	want(t, owner.do(t, "DELETE", "/api/v1/videos/"+id, nil), http.StatusNoContent, "")
	want(t, owner.do(t, "GET", "/api/v1/videos/"+id, nil), http.StatusNotFound, "video_not_found")
	want(t, owner.do(t, "DELETE", "/api/v1/videos/"+id, nil), http.StatusNotFound, "video_not_found")
	if _, err := media.ListParts(context.Background(), vodfc.SourceKey(id), out.Upload.UploadID); !oss.IsNotFound(err) {
		t.Fatalf("the multipart upload of a deleted video is still open: %v", err)
	}
	r := owner.do(t, "GET", "/api/v1/me/videos", nil)
	if strings.Contains(string(r.body), id) {
		t.Fatal("a deleted video is still listed")
	}
}

func TestListsAreNewestFirstWithCursors(t *testing.T) {
	owner := newClient(t, vodfc.TierFree)
	var ids []string
	for i := range 7 {
		d := draft(1000)
		d["title"] = fmt.Sprintf("video %d", i)
		if i == 5 {
			d["visibility"] = "unlisted"
		}
		id := owner.create(t, d).Video.ID
		ids = append([]string{id}, ids...) // newest first
		if i%2 == 1 || i == 5 {
			publish(t, id)
		}
		time.Sleep(2 * time.Millisecond) // distinct creation times
	}
	read := func(c client, path string, limit int) []string {
		var got []string
		cursor := ""
		for page := 0; page < 10; page++ {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = ""
			}
			r := c.do(t, "GET", fmt.Sprintf("%s%slimit=%d&cursor=%s", path, sep, limit, cursor), nil)
			want(t, r, http.StatusOK, "")
			var l struct {
				Items      []view `json:"items"`
				NextCursor string `json:"next_cursor"`
			}
			r.decode(t, &l)
			if len(l.Items) > limit {
				t.Fatalf("page of %d items with limit %d", len(l.Items), limit)
			}
			for _, v := range l.Items {
				got = append(got, v.ID)
			}
			if l.NextCursor == "" {
				return got
			}
			cursor = l.NextCursor
		}
		t.Fatal("the list never ended")
		return nil
	}
	if got := read(owner, "/api/v1/me/videos", 3); strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("my videos %v, want %v", got, ids)
	}
	// The public page: ready and public only (i = 1, 3; 5 is unlisted), newest first.
	public := []string{ids[7-1-3], ids[7-1-1]}
	scoped := api
	api = wholeAPI // the users function serves this list; the test runs alone (no t.Parallel)
	got := read(nobody, "/api/v1/users/"+owner.id+"/videos", 1)
	api = scoped
	if strings.Join(got, ",") != strings.Join(public, ",") {
		t.Fatalf("a user's public videos: %v, want %v", got, public)
	}
	want(t, nobody.do(t, "GET", "/api/v1/videos", nil), http.StatusMethodNotAllowed, "method_not_allowed")
	want(t, nobody.do(t, "GET", "/api/v1/me/videos", nil), http.StatusUnauthorized, "")
	want(t, owner.do(t, "GET", "/api/v1/me/videos?cursor=bm9wZQ", nil), http.StatusBadRequest, "invalid_cursor")
}

// FC routes /api/v1/videos/* here, so the routes other features hang under a video answer
// from this function (their behaviour is tested in their packages and end to end).
func TestVideoScopedRoutesOfOtherFeaturesAreServedHere(t *testing.T) {
	id := vodfc.NewID()
	for _, path := range []string{"/play", "/comments", "/danmaku?segment=1", "/danmaku.xml", "/danmaku/heatmap?bucket_s=10"} {
		want(t, nobody.do(t, "GET", "/api/v1/videos/"+id+path, nil), http.StatusNotFound, "video_not_found")
	}
	want(t, nobody.do(t, "PUT", "/api/v1/videos/"+id+"/like", nil), http.StatusUnauthorized, "")
	want(t, nobody.do(t, "GET", "/api/v1/me/likes", nil), http.StatusNotFound, "route_not_found")
}

func TestConfigurationErrorsStopStartUp(t *testing.T) {
	t.Setenv("OTS_ENDPOINT", "")
	t.Setenv("MEDIA_BUCKET", "")
	_, err := loadConfig(func(k string) string {
		return map[string]string{"VIDEOS_UPLOAD_URL_TTL": "1h", "VIDEOS_PART_SIZE": "1KiB"}[k]
	})
	for _, want := range []string{"OTS_ENDPOINT", "MEDIA_BUCKET", "VIDEOS_UPLOAD_URL_TTL", "VIDEOS_PART_SIZE", "JWT_VERIFY_KEYS"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %s: %v", want, err)
		}
	}
}

// TestHidingAVideoStopsItsEngagementAtOnce: engagement's gate caches who may see a video; an
// edit or delete here must drop that, or for half a minute strangers keep reading and
// writing comments (and danmaku, likes, views) of a video its owner just made private.
func TestHidingAVideoStopsItsEngagementAtOnce(t *testing.T) {
	owner, other := newClient(t, vodfc.TierFree), newClient(t, vodfc.TierFree)
	id := owner.create(t, draft(1000)).Video.ID
	publish(t, id)
	want(t, other.do(t, "GET", "/api/v1/videos/"+id+"/comments", nil), http.StatusOK, "")
	want(t, owner.do(t, "PATCH", "/api/v1/videos/"+id, map[string]any{"visibility": "private"}), http.StatusOK, "")
	want(t, other.do(t, "GET", "/api/v1/videos/"+id+"/comments", nil), http.StatusNotFound, "video_not_found")
	want(t, other.do(t, "POST", "/api/v1/videos/"+id+"/comments", map[string]any{"text": "still here?"}), http.StatusNotFound, "video_not_found")
	want(t, owner.do(t, "PATCH", "/api/v1/videos/"+id, map[string]any{"visibility": "public"}), http.StatusOK, "")
	want(t, other.do(t, "GET", "/api/v1/videos/"+id+"/comments", nil), http.StatusOK, "")
	want(t, owner.do(t, "DELETE", "/api/v1/videos/"+id, nil), http.StatusNoContent, "")
	want(t, other.do(t, "GET", "/api/v1/videos/"+id+"/danmaku", nil), http.StatusNotFound, "video_not_found")
}
