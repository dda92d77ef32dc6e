package apidoc

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vodfc.dev/vodfc/httpapi"
)

// recordingT collects what Check reports instead of failing the test running it.
type recordingT struct {
	testing.TB
	errs  []string
	fatal bool
}

func (r *recordingT) Helper() {}
func (r *recordingT) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recordingT) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.fatal = true
}

const sample = `openapi: 3.1.0
info: {title: sample, version: "1"}
paths:
  /api/v1/videos:
    post: {operationId: createVideo, x-function: videos}
    get: {operationId: listVideos, x-function: videos}
  /api/v1/videos/{videoId}:
    parameters:
      - {name: videoId, in: path, required: true, schema: {type: string}}
    get: {operationId: getVideo, x-function: videos}
    delete: {operationId: deleteVideo, x-function: videos}
  /api/v1/videos/{videoId}/play:
    get: {operationId: playVideo, x-function: playback}
  /api/v1/files/{path}:
    get: {operationId: getFile, x-function: videos}
`

func writeDoc(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "openapi.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func videosRouter(extra ...string) *httpapi.Router {
	r := httpapi.NewRouter()
	noop := func(http.ResponseWriter, *http.Request) {}
	for _, p := range append([]string{"POST /api/v1/videos", "GET /api/v1/videos", "GET /api/v1/videos/{id}",
		"DELETE /api/v1/videos/{id}", "GET /api/v1/files/{rest...}"}, extra...) {
		r.HandleFunc(p, noop)
	}
	return r
}

func TestCheckAgrees(t *testing.T) {
	doc := writeDoc(t, sample)
	Check(t, doc, "videos", videosRouter().Routes())
	pr := httpapi.NewRouter()
	pr.HandleFunc("GET /api/v1/videos/{id}/play", func(http.ResponseWriter, *http.Request) {})
	Check(t, doc, "playback", pr.Routes())
}

func TestCheckFindsMismatches(t *testing.T) {
	doc := writeDoc(t, sample)
	rt := &recordingT{}
	r := httpapi.NewRouter()
	noop := func(http.ResponseWriter, *http.Request) {}
	for _, p := range []string{"POST /api/v1/videos", "GET /api/v1/videos/{id}", "DELETE /api/v1/videos/{id}",
		"GET /api/v1/files/{rest...}", "PATCH /api/v1/videos/{id}", "GET /api/v1/videos/{id}/play"} {
		r.HandleFunc(p, noop)
	}
	Check(rt, doc, "videos", r.Routes())
	got := strings.Join(rt.errs, "\n")
	for _, want := range []string{
		"route PATCH /api/v1/videos/{id} is not in the OpenAPI document",
		"operation GET /api/v1/videos (x-function videos) has no handler",
		`route GET /api/v1/videos/{id}/play is documented as GET /api/v1/videos/{videoId}/play of function "playback", not "videos"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if len(rt.errs) != 3 || rt.fatal {
		t.Errorf("%d problems (fatal=%v):\n%s", len(rt.errs), rt.fatal, got)
	}
	// A doc that does not load stops the check.
	rt = &recordingT{}
	Check(rt, filepath.Join(t.TempDir(), "missing.yaml"), "videos", nil)
	if !rt.fatal {
		t.Error("missing document did not fail the check")
	}
}

func TestLoadValidates(t *testing.T) {
	for name, text := range map[string]string{
		"3.0":             strings.Replace(sample, "3.1.0", "3.0.3", 1),
		"no x-function":   strings.Replace(sample, "{operationId: getFile, x-function: videos}", "{operationId: getFile}", 1),
		"dup operationId": strings.Replace(sample, "operationId: getFile", "operationId: getVideo", 1),
		"no paths":        "openapi: 3.1.0\ninfo: {title: t, version: '1'}\n",
		"bad path":        strings.Replace(sample, "  /api/v1/files/{path}:", "  api/v1/files/{path}:", 1),
		"not yaml":        "openapi: [",
	} {
		if _, err := Load(writeDoc(t, text)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	d, err := Load(writeDoc(t, sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Operations) != 6 || len(d.For("videos")) != 5 || d.Operations[0].String() != "DELETE /api/v1/videos/{videoId}" {
		t.Errorf("operations %v", d.Operations)
	}
}

// TestRepositoryDocument: the real docs/openapi.yaml always loads.
func TestRepositoryDocument(t *testing.T) {
	d, err := Load("../../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d.Title == "" || !strings.HasPrefix(d.OpenAPI, "3.1") {
		t.Errorf("%+v", d)
	}
}
