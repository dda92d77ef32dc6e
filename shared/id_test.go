package vodfc

import (
	"sort"
	"testing"
	"time"
)

func TestNewIDShapeAndUniqueness(t *testing.T) {
	seen := map[string]bool{}
	for range 10000 {
		id := NewID()
		if !ValidID(id) || len(id) != 16 {
			t.Fatalf("bad id %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}

func TestSortableIDsFollowTime(t *testing.T) {
	base := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 500 {
		id := NewSortableID(base.Add(time.Duration(i) * time.Millisecond))
		if !ValidID(id) || len(id) != 20 {
			t.Fatalf("bad sortable id %q", id)
		}
		ids = append(ids, id)
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("sortable ids are not in time order")
	}
}

func TestValidIDRejectsJunk(t *testing.T) {
	for _, s := range []string{"", "abc", "ABCDEFGHJKMNPQRS", "0123456789abcdei", "../../etc/passwd", "0123456789abcdef0123456789"} {
		if ValidID(s) {
			t.Errorf("ValidID(%q) = true", s)
		}
	}
}
