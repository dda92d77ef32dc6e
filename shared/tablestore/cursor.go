package tablestore

import (
	"encoding/json"
	"errors"
)

// keyCol is the wire form of one key column in a cursor; the type is explicit so an integer
// survives JSON (which would otherwise turn it into a float).
type keyCol struct {
	N string  `json:"n"`
	S *string `json:"s,omitempty"`
	I *int64  `json:"i,omitempty"`
	B []byte  `json:"b,omitempty"`
	M int     `json:"m,omitempty"` // -1 Min, 1 Max
}

// MarshalKey turns a range position into bytes for an opaque pagination cursor.
func MarshalKey(k Key) []byte {
	out := make([]keyCol, len(k))
	for i, c := range k {
		kc := keyCol{N: c.Name}
		switch v := c.Value.(type) {
		case string:
			kc.S = &v
		case int64:
			kc.I = &v
		case []byte:
			kc.B = v
		case bound:
			kc.M = int(v)
		}
		out[i] = kc
	}
	b, _ := json.Marshal(out)
	return b
}

// ErrBadCursor is returned for a cursor that does not decode to a key.
var ErrBadCursor = errors.New("tablestore: malformed cursor")

// UnmarshalKey reads a key written by MarshalKey. Callers must still check that the key
// belongs to the range they read (e.g. the same owner), since cursors come from clients.
func UnmarshalKey(b []byte) (Key, error) {
	var in []keyCol
	if err := json.Unmarshal(b, &in); err != nil || len(in) == 0 || len(in) > 4 {
		return nil, ErrBadCursor
	}
	k := make(Key, len(in))
	for i, c := range in {
		switch {
		case c.S != nil:
			k[i] = KeyCol{Name: c.N, Value: *c.S}
		case c.I != nil:
			k[i] = KeyCol{Name: c.N, Value: *c.I}
		case c.B != nil:
			k[i] = KeyCol{Name: c.N, Value: c.B}
		case c.M == -1:
			k[i] = KeyCol{Name: c.N, Value: Min}
		case c.M == 1:
			k[i] = KeyCol{Name: c.N, Value: Max}
		default:
			return nil, ErrBadCursor
		}
	}
	return k, nil
}
