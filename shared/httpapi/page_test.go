package httpapi

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"vodfc.dev/vodfc"
)

func TestParsePage(t *testing.T) {
	for q, want := range map[string]Page{
		"":                   {Limit: 20},
		"?limit=5":           {Limit: 5},
		"?limit=1000":        {Limit: 100},
		"?cursor=abc&limit=": {Limit: 20, Cursor: "abc"},
	} {
		p, err := ParsePage(httptest.NewRequest("GET", "/x"+q, nil), 20, 100)
		if err != nil || p != want {
			t.Errorf("%q: %+v %v", q, p, err)
		}
	}
	for _, q := range []string{"?limit=0", "?limit=-1", "?limit=ten", "?limit=1.5", "?cursor=" + strings.Repeat("a", 3000)} {
		if _, err := ParsePage(httptest.NewRequest("GET", "/x"+q, nil), 20, 100); !vodfc.IsKind(err, vodfc.KindInvalid) {
			t.Errorf("%.30q accepted: %v", q, err)
		}
	}
}

func TestCursors(t *testing.T) {
	type pos struct {
		Score int64  `json:"s"`
		ID    string `json:"id"`
	}
	c, err := EncodeCursor(pos{42, "v/1"})
	if err != nil || strings.ContainsAny(c, "+/=") {
		t.Fatalf("cursor %q %v", c, err)
	}
	var got pos
	if err := DecodeCursor(c, &got); err != nil || got != (pos{42, "v/1"}) {
		t.Errorf("round trip %+v %v", got, err)
	}
	b := []byte{0, 1, 0xfe, 0xff}
	if back, err := DecodeCursorBytes(EncodeCursorBytes(b)); err != nil || string(back) != string(b) {
		t.Errorf("bytes round trip %v %v", back, err)
	}
	other, _ := EncodeCursor(map[string]int{"page": 2})
	for _, bad := range []string{"", "!!!", "e30=", EncodeCursorBytes([]byte("not json")), EncodeCursorBytes([]byte(`{"s":1}{}`)), other} {
		err := DecodeCursor(bad, &got)
		var e *vodfc.Error
		if !errors.As(err, &e) || e.Code != "invalid_cursor" {
			t.Errorf("cursor %q: %v", bad, err)
		}
	}
	w := errorResponse(DecodeCursor("!!!", &got))
	if p := problemOf(t, w); w.Code != 400 || p.Code != "invalid_cursor" {
		t.Errorf("answered %d %+v", w.Code, p)
	}
}
