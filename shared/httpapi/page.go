package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"

	"vodfc.dev/vodfc"
)

// Page is what a list request asked for: at most Limit items after Cursor ("" for the start).
type Page struct {
	Limit  int
	Cursor string
}

// List is the envelope of every list response; NextCursor is empty on the last page.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// maxCursor bounds a cursor's length: cursors are small, anything longer is not ours.
const maxCursor = 2048

// ParsePage reads ?limit= and ?cursor=. A missing limit is def; a limit above max is lowered
// to max (as a client asking for "as many as you allow" expects); a limit that is not a
// positive integer is a 400 invalid_limit. The cursor is checked for shape only; decode it
// with DecodeCursor or DecodeCursorBytes.
func ParsePage(r *http.Request, def, max int) (Page, error) {
	q := r.URL.Query()
	p := Page{Limit: def, Cursor: q.Get("cursor")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return Page{}, vodfc.InvalidField("limit", "must be a positive integer")
		}
		p.Limit = n
	}
	if p.Limit > max {
		p.Limit = max
	}
	if len(p.Cursor) > maxCursor {
		return Page{}, errInvalidCursor()
	}
	return p, nil
}

func errInvalidCursor() error {
	return &vodfc.Error{Kind: vodfc.KindInvalid, Code: "invalid_cursor",
		Message: "cursor is malformed; start again without one", Fields: map[string]string{"cursor": "malformed"}}
}

// EncodeCursor makes an opaque cursor of v: base64url of its JSON. Cursors are opaque, not
// secret or tamper-proof: whatever a client puts in one is re-checked like any input.
func EncodeCursor(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// DecodeCursor reads a cursor made by EncodeCursor into v; anything malformed, including
// fields v does not have, is a 400 invalid_cursor.
func DecodeCursor(cursor string, v any) error {
	b, err := DecodeCursorBytes(cursor)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.More() {
		return errInvalidCursor()
	}
	return nil
}

// EncodeCursorBytes makes an opaque cursor of raw bytes (e.g. a Tablestore next primary key).
func EncodeCursorBytes(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// DecodeCursorBytes reads a cursor made by EncodeCursorBytes; malformed is a 400 invalid_cursor.
func DecodeCursorBytes(cursor string) ([]byte, error) {
	if cursor == "" || len(cursor) > maxCursor {
		return nil, errInvalidCursor()
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, errInvalidCursor()
	}
	return b, nil
}
