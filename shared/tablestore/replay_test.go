package tablestore_test

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"vodfc.dev/local/otsemu"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
)

// loseResponses forwards every request to the emulator but, while armed, drops the response of
// the next one with an EOF, as a reset connection would after the service applied the write.
type loseResponses struct {
	next  http.RoundTripper
	armed atomic.Int32
}

func (l *loseResponses) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(r)
	if err == nil && l.armed.Add(-1) >= 0 {
		resp.Body.Close()
		return nil, io.ErrUnexpectedEOF
	}
	return resp, err
}

func TestLostWriteResponsesAreNeverReplayed(t *testing.T) {
	ctx := context.Background()
	emu, err := otsemu.Open(otsemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", Instance: "vodfc"})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	lose := &loseResponses{next: emu.Transport()}
	c, _ := tablestore.New(tablestore.Config{Endpoint: "http://ots.local", Instance: "vodfc", Transport: lose,
		Credentials: func() (runtime.Credentials, bool) {
			return runtime.Credentials{AccessKeyID: "ak", AccessKeySecret: "sk"}, true
		}})
	if _, err := c.Ensure(ctx, []tablestore.Table{things}); err != nil {
		t.Fatal(err)
	}
	k := tablestore.K("owner", "lost", "n", 1)

	lose.armed.Store(1)
	if _, err := c.Update(ctx, "things", k, tablestore.Change{Incr: map[string]int64{"likes": 1}}, tablestore.Always); err == nil {
		t.Fatal("a write whose response was lost must report an error, not be replayed")
	}
	lose.armed.Store(1)
	// Reads are idempotent: the lost response is retried and the applied increment shows once.
	row, err := c.Get(ctx, "things", k)
	if err != nil {
		t.Fatalf("read after a lost response: %v", err)
	}
	if row.Int("likes") != 1 {
		t.Fatalf("likes = %d after one increment whose response was lost", row.Int("likes"))
	}

	lose.armed.Store(1)
	err = c.Put(ctx, "things", tablestore.K("owner", "lost", "n", 2), tablestore.Cols{"v": 1}, tablestore.IfNotExists())
	if err == nil || tablestore.IsConditionFailed(err) {
		t.Fatalf("a lost conditional put must surface as ambiguous, not as someone else's win: %v", err)
	}
}
