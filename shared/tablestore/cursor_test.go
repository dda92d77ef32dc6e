package tablestore

import (
	"reflect"
	"testing"
)

func TestKeyCursorRoundTrip(t *testing.T) {
	k := K("owner_id", "u1", "created_at", int64(1<<60+3), "blob", []byte{0, 1}, "video_id", Max)
	got, err := UnmarshalKey(MarshalKey(k))
	if err != nil || !reflect.DeepEqual(got, k) {
		t.Fatalf("round trip: %v %v, want %v", got, err, k)
	}
	for _, bad := range []string{"", "{}", "[]", `[{"n":"x"}]`, "not json"} {
		if _, err := UnmarshalKey([]byte(bad)); err == nil {
			t.Errorf("UnmarshalKey(%q) accepted", bad)
		}
	}
}
