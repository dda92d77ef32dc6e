package main

// The end-to-end tests of the video pipeline: the real videos, transcode and playback binaries
// on the local cloud, driven over HTTP like a client, with real ffmpeg playing the result. The
// cloud and the test media are made once for the package; every test shares them.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vodfc.dev/local/cloud"
	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/playback"
	"vodfc.dev/vodfc/runtime"
)

var (
	cl       *cloud.Cloud
	cloudLog = &cloud.Log{}
	media    *oss.Store // the media bucket, to look behind the API's back
	tokens   *playback.Tokens
	clips    = map[string]string{} // name -> path of a generated file
	ffmpegs  struct{ ffmpeg, ffprobe string }
)

const bucket = "vodfc-media"

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "vodfc-pipeline-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := makeClips(filepath.Join(dir, "clips")); err != nil {
		fmt.Fprintln(os.Stderr, "test media:", err)
		return 1
	}
	key := make([]byte, 32)
	rand.Read(key)
	tokens, _ = playback.NewTokens(key)

	// The multipart clip is cut into exactly three parts; every other upload stays below the
	// threshold and goes up in one PUT.
	fi, err := os.Stat(clips["multipart"])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	part := max((fi.Size()+2)/3, 100<<10)
	env := map[string]string{
		"VIDEOS_MULTIPART_THRESHOLD":  strconv.FormatInt(part, 10),
		"VIDEOS_PART_SIZE":            strconv.FormatInt(part, 10),
		"TRANSCODE_PROGRESS_INTERVAL": "200ms",
		"PLAYBACK_TOKEN_KEY":          base64.RawURLEncoding.EncodeToString(key),
	}
	if b, err := os.ReadFile("../../s.yaml"); err == nil && strings.Contains(string(b), "ADMIN_EMAILS:") {
		env["ADMIN_EMAILS"] = adminAddress
	}
	manifest, err := testManifest(filepath.Join(dir, "s.yaml"), env)
	if err != nil {
		fmt.Fprintln(os.Stderr, "test manifest:", err)
		return 1
	}
	for name, p := range clips {
		if name == "multipart" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && fi.Size() > part {
			fmt.Fprintf(os.Stderr, "clip %s has %d bytes, above the multipart threshold %d\n", name, fi.Size(), part)
			return 1
		}
	}

	// Uploaders sign up and log in through auth, as a client does; users lists their videos.
	functions := []string{"vodfc-videos", "vodfc-transcode", "vodfc-playback", "vodfc-auth", "vodfc-users"}
	opts := cloud.Ephemeral(manifest, functions...)
	opts.Log = cloudLog
	return cloud.RunTests(m, opts, func(c *cloud.Cloud) (err error) {
		cl = c
		media, err = oss.New(oss.Config{Endpoint: cl.OSSEndpoint, Bucket: bucket, Region: "cn-hangzhou",
			Credentials: func() (runtime.Credentials, bool) {
				return runtime.Credentials{AccessKeyID: cl.Credentials.AccessKeyID, AccessKeySecret: cl.Credentials.AccessKeySecret}, true
			}})
		return err
	})
}

// testManifest writes a copy of the repository's s.yaml into path with env overridden. Its
// builds still run in the repository (their path and code are made relative to the copy).
func testManifest(path string, env map[string]string) (string, error) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(repo, "s.yaml"))
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(filepath.Dir(path), repo)
	if err != nil {
		return "", err
	}
	s := string(b)
	s = regexp.MustCompile(`(?m)^(\s+)path: \./$`).ReplaceAllString(s, "${1}path: "+rel+"/")
	s = regexp.MustCompile(`(?m)^(\s+)code: \./`).ReplaceAllString(s, "${1}code: "+rel+"/")
	for k, v := range env {
		re := regexp.MustCompile(`(?m)^(\s+)` + k + `: .*$`)
		if !re.MatchString(s) {
			return "", fmt.Errorf("s.yaml has no %s to override", k)
		}
		s = re.ReplaceAllString(s, "${1}"+k+": '"+v+"'")
	}
	return path, os.WriteFile(path, []byte(s), 0o644)
}

// makeClips generates every test file with lavfi sources, two ffmpeg runs at a time.
func makeClips(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var err error
	if ffmpegs.ffmpeg, err = exec.LookPath("ffmpeg"); err != nil {
		return err
	}
	if ffmpegs.ffprobe, err = exec.LookPath("ffprobe"); err != nil {
		return err
	}
	x264 := []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}
	aac := []string{"-c:a", "aac", "-b:a", "64k", "-shortest"}
	lavfi := func(src string) []string { return []string{"-f", "lavfi", "-i", src} }
	tone := lavfi("sine=f=440:r=48000:d=3")
	jobs := []struct {
		name string
		args []string
	}{
		// 720p with sound: a three-rung ladder (720p, 480p, 360p).
		{"main.mp4", cat(lavfi("testsrc2=s=1280x720:r=24:d=6"), lavfi("sine=f=440:r=48000:d=6"), x264, []string{"-preset", "veryfast", "-crf", "36"}, aac)},
		// 1080p at 5 fps, nearly lossless so it is big enough for three upload parts: the
		// four-rung ladder whose top rung is for members.
		{"multipart.mp4", cat(lavfi("testsrc2=s=1920x1080:r=5:d=3"), x264, []string{"-qp", "4"})},
		// Long enough to be killed mid-encode, small enough for one PUT.
		{"crash.mp4", cat(lavfi("testsrc2=s=854x480:r=24:d=20"), x264, []string{"-preset", "veryfast", "-crf", "42"})},
		{"small.mp4", cat(lavfi("testsrc2=s=640x360:r=24:d=2"), tone, x264, []string{"-crf", "32"}, aac)},
		{"portrait.mp4", cat(lavfi("testsrc2=s=360x640:r=24:d=2"), x264, []string{"-crf", "32"})},
		{"land.mp4", cat(lavfi("testsrc2=s=640x360:r=24:d=2"), x264, []string{"-crf", "32"})},
		// Hours "in" a few kilobytes: three frames over 2h47m, what a hostile file declares.
		{"long.mp4", cat(lavfi("color=c=red:s=64x64:r=1,format=yuv420p"), []string{"-frames:v", "3", "-vf", "setpts=N*5000/TB", "-fps_mode", "passthrough"}, x264)},
		// Wider than the 4096 pixels accepted.
		{"wide.mp4", cat(lavfi("testsrc2=s=4104x64:r=10:d=0.5"), x264)},
		// The index (moov) at the end, which a cut loses.
		{"moovlast.mp4", cat(lavfi("testsrc2=s=320x180:r=24:d=3"), x264)},
	}
	errs := make(chan error, len(jobs))
	slots := make(chan struct{}, 2)
	for _, j := range jobs {
		slots <- struct{}{}
		go func() {
			defer func() { <-slots }()
			out := filepath.Join(dir, j.name)
			args := append([]string{"-hide_banner", "-nostdin", "-v", "error", "-y"}, j.args...)
			if b, err := exec.Command(ffmpegs.ffmpeg, append(args, out)...).CombinedOutput(); err != nil {
				errs <- fmt.Errorf("%s: %v\n%s", j.name, err, b)
				return
			}
			errs <- nil
		}()
	}
	for range jobs {
		if err := <-errs; err != nil {
			return err
		}
	}
	for _, j := range jobs {
		clips[strings.TrimSuffix(j.name, ".mp4")] = filepath.Join(dir, j.name)
	}
	// A phone held upright: landscape pixels with a 90° display matrix.
	rotated := filepath.Join(dir, "rotated.mp4")
	if b, err := exec.Command(ffmpegs.ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", clips["land"],
		"-c", "copy", "-metadata:s:v:0", "rotate=90", rotated).CombinedOutput(); err != nil {
		return fmt.Errorf("rotated.mp4: %v\n%s", err, b)
	}
	clips["rotated"] = rotated
	whole, err := os.ReadFile(clips["moovlast"])
	if err != nil {
		return err
	}
	clips["truncated"] = filepath.Join(dir, "truncated.mp4")
	if err := os.WriteFile(clips["truncated"], whole[:len(whole)/2], 0o644); err != nil {
		return err
	}
	clips["text"] = filepath.Join(dir, "text.mp4")
	if err := os.WriteFile(clips["text"], []byte("Hello, this is a text file, not a video.\n"), 0o644); err != nil {
		return err
	}
	clips["empty"] = filepath.Join(dir, "empty.mp4")
	return os.WriteFile(clips["empty"], nil, 0o644)
}

func cat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// ---------------------------------------------------------------- a client of the API

type user struct {
	id    string
	token string
	email string
}

func newUser(t *testing.T, tier vodfc.Tier) user {
	t.Helper()
	id := vodfc.NewID()
	tok, err := cl.MintToken(id, tier)
	if err != nil {
		t.Fatal(err)
	}
	return user{id: id, token: tok}
}

var anonymous = user{}

// The accounts the tests act as. With the auth function in s.yaml they are real: signed up,
// verified with the code from the mail sink and logged in, and the member made one by an
// admin through the users function, as the product does until the membership work lands.
// Without it they are tokens minted with the local dev key.
var accounts struct {
	once             sync.Once
	uploader, member user
	err              error
}

var adminAddress = fmt.Sprintf("admin-%d@example.com", time.Now().UnixNano())

const password = "a long enough upload passphrase"

// registeredUser is a free account that uploads.
func registeredUser(t *testing.T) user {
	t.Helper()
	signUpAll(t)
	return accounts.uploader
}

// memberUser is an account of the member tier.
func memberUser(t *testing.T) user {
	t.Helper()
	signUpAll(t)
	return accounts.member
}

func signUpAll(t *testing.T) {
	t.Helper()
	accounts.once.Do(func() {
		stamp := time.Now().UnixNano()
		if accounts.uploader, accounts.err = signUp(t, fmt.Sprintf("uploader-%d@example.com", stamp)); accounts.err != nil {
			return
		}
		member, err := signUp(t, fmt.Sprintf("member-%d@example.com", stamp))
		if err != nil {
			accounts.err = err
			return
		}
		admin, err := signUp(t, adminAddress)
		if err != nil {
			accounts.err = err
			return
		}
		r := do(t, admin, "PUT", "/api/v1/admin/users/"+member.id+"/tier", map[string]string{"tier": "member"})
		if r.status != http.StatusOK {
			accounts.err = fmt.Errorf("making a member: %d %s", r.status, r.body)
			return
		}
		// The new tier shows in the next access token.
		accounts.member, accounts.err = login(t, member.email)
	})
	if accounts.err != nil {
		t.Fatal(accounts.err)
	}
}

var codeRE = regexp.MustCompile(`(?m)^\s*(\d{6})\s*$`)

// signUp registers addr, verifies it with the mailed code and logs in.
func signUp(t *testing.T, addr string) (user, error) {
	r := do(t, anonymous, "POST", "/api/v1/auth/register", map[string]string{"email": addr, "password": password, "nickname": "Tester"})
	if r.status != http.StatusAccepted {
		return user{}, fmt.Errorf("register: %d %s", r.status, r.body)
	}
	var code string
	for deadline := time.Now().Add(30 * time.Second); code == ""; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			return user{}, fmt.Errorf("no verification mail to %s", addr)
		}
		var msgs []struct {
			Text string `json:"text"`
		}
		r := do(t, anonymous, "GET", "/_local/mail?to="+url.QueryEscape(addr), nil)
		if r.status == http.StatusOK && json.Unmarshal(r.body, &msgs) == nil && len(msgs) > 0 {
			if m := codeRE.FindStringSubmatch(msgs[0].Text); m != nil {
				code = m[1]
			}
		}
	}
	if r := do(t, anonymous, "POST", "/api/v1/auth/verify", map[string]string{"email": addr, "code": code}); r.status != http.StatusOK {
		return user{}, fmt.Errorf("verify: %d %s", r.status, r.body)
	}
	return login(t, addr)
}

func login(t *testing.T, addr string) (user, error) {
	r := do(t, anonymous, "POST", "/api/v1/auth/login", map[string]string{"email": addr, "password": password})
	var s struct {
		AccessToken string `json:"access_token"`
		User        struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &s) != nil || s.AccessToken == "" {
		return user{}, fmt.Errorf("login: %d %s", r.status, r.body)
	}
	return user{id: s.User.ID, token: s.AccessToken, email: addr}, nil
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// problemCode is the code of a problem+json body.
func (r response) problemCode() string {
	var p struct {
		Code string `json:"code"`
	}
	json.Unmarshal(r.body, &p)
	return p.Code
}

func do(t *testing.T, u user, method, url string, body any) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	if strings.HasPrefix(url, "/") {
		url = cl.GatewayURL + url
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if u.token != "" {
		req.Header.Set("Authorization", "Bearer "+u.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func expect(t *testing.T, r response, status int, what string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.body)
	}
}

// video is the API's view of a video.
type video struct {
	ID          string  `json:"id"`
	Owner       string  `json:"owner"`
	Status      string  `json:"status"`
	Visibility  string  `json:"visibility"`
	Progress    int     `json:"progress"`
	FailureCode string  `json:"failure_code"`
	DurationS   float64 `json:"duration_s"`
	Width       int     `json:"width"`
	Height      int     `json:"height"`
	Renditions  []struct {
		Height    int    `json:"height"`
		Width     int    `json:"width"`
		Bandwidth int    `json:"bandwidth"`
		Codecs    string `json:"codecs"`
	} `json:"renditions"`
	CoverURL      string `json:"cover_url"`
	StoryboardURL string `json:"storyboard_url"`
	PlayURL       string `json:"play_url"`
}

type plan struct {
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	ExpiresAt time.Time         `json:"expires_at"`
	UploadID  string            `json:"upload_id"`
	PartSize  int64             `json:"part_size"`
	PartCount int               `json:"part_count"`
}

// create makes a video for file as owner, declaring size bytes.
func create(t *testing.T, owner user, title string, size int64) (video, plan) {
	t.Helper()
	r := do(t, owner, "POST", "/api/v1/videos", map[string]any{"title": title, "description": "made by " + t.Name(),
		"tags": []string{"test"}, "filename": title + ".mp4", "size": size, "content_type": "video/mp4"})
	expect(t, r, http.StatusCreated, "create video")
	var out struct {
		Video  video `json:"video"`
		Upload plan  `json:"upload"`
	}
	r.json(t, &out)
	if out.Video.Status != "awaiting_upload" {
		t.Fatalf("new video is %q", out.Video.Status)
	}
	return out.Video, out.Upload
}

// put sends data to a presigned URL with the plan's headers and returns the response.
func put(t *testing.T, url string, headers map[string]string, data []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest("PUT", url, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// upload creates a video and PUTs the file to its presigned URL, declaring declared bytes
// (-1: the file's own size).
func upload(t *testing.T, owner user, clip string, declared int64) video {
	t.Helper()
	data, err := os.ReadFile(clips[clip])
	if err != nil {
		t.Fatal(err)
	}
	if declared < 0 {
		declared = int64(len(data))
	}
	v, p := create(t, owner, clip, declared)
	if p.Method != "PUT" {
		t.Fatalf("a %d-byte file got a %q plan", declared, p.Method)
	}
	if resp := put(t, p.URL, p.Headers, data); resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT to the presigned URL: %s", resp.Status)
	}
	return v
}

// progressLog records what a poller saw while a video was processed.
type progressLog struct {
	values []int
}

// waitDone polls the video as its owner until it leaves processing and returns it.
func waitDone(t *testing.T, owner user, id string) (video, progressLog) {
	t.Helper()
	var log progressLog
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		var v video
		r := do(t, owner, "GET", "/api/v1/videos/"+id, nil)
		expect(t, r, http.StatusOK, "get video")
		r.json(t, &v)
		if v.Status == "processing" {
			log.values = append(log.values, v.Progress)
		}
		if v.Status == "ready" || v.Status == "failed" || v.Status == "deleted" {
			return v, log
		}
		time.Sleep(40 * time.Millisecond)
	}
	t.Fatalf("video %s still not processed after 3 minutes\n%s", id, recentLog())
	return video{}, log
}

// recentLog is the end of the cloud's log, for failure messages.
func recentLog() string { return cloudLog.Tail(6000) }

// mediaObjects lists the objects under a video's media prefix.
func mediaObjects(t *testing.T, id string) []string {
	t.Helper()
	var keys []string
	err := media.List(context.Background(), vodfc.MediaPrefix+id+"/", func(o oss.Object) error {
		keys = append(keys, o.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func sourceExists(t *testing.T, id string) bool {
	t.Helper()
	ok, err := media.Exists(context.Background(), vodfc.SourceKey(id))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}
