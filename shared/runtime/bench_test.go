package runtime

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
)

// benchHandler is a small JSON endpoint: it reads a header and a query value and answers a
// fixed document, so the benchmarks measure the adapter, not the handler.
var benchHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_ = r.Header.Get("Header1")
	_ = r.URL.Query().Get("parameter1")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"id":"v1","title":"hello","views":42}`)
})

// BenchmarkGo1Adapter measures the go1 path: HTTPTriggerEvent → net/http handler →
// HTTPTriggerResponse, as structs (ServeHTTPTrigger) and from the raw payload to the JSON
// result the SDK sends (InvokeGo1, minus the SDK's own reflection and HTTP round trip).
func BenchmarkGo1Adapter(b *testing.B) {
	b.Run("ServeHTTPTrigger", func(b *testing.B) {
		ev := fcSample(b)
		ctx := WithInvocation(context.Background(), &Invocation{RequestID: "bench"})
		b.ReportAllocs()
		for b.Loop() {
			resp, err := ServeHTTPTrigger(ctx, benchHandler, ev)
			if err != nil || resp.StatusCode != 200 {
				b.Fatal(resp, err)
			}
		}
	})
	b.Run("InvokeGo1", func(b *testing.B) {
		payload, err := readSample("testdata/fc-http-event.json")
		if err != nil {
			b.Fatal(err)
		}
		f := &Function{HTTP: benchHandler}
		ctx := fccontext.NewContext(context.Background(), &fccontext.FcContext{RequestID: "bench",
			Credentials: fccontext.Credentials{AccessKeyId: "ak", AccessKeySecret: "s", SecurityToken: "t"}})
		b.ReportAllocs()
		for b.Loop() {
			out, err := f.InvokeGo1(ctx, payload)
			if err != nil || len(out) == 0 {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDirectHandler is the baseline: the same handler called directly with httptest.
func BenchmarkDirectHandler(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("GET", "/example?parameter1=value1&parameter2=value1%2Cvalue2", nil)
		r.Header.Set("Header1", "value1")
		r.Header.Set("Header2", "value1,value2")
		w := httptest.NewRecorder()
		benchHandler.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
