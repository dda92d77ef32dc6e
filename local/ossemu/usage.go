package ossemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// minStorage is OSS's minimum storage duration per class: an object removed, overwritten or
// moved to another class earlier is billed for the rest of it.
var minStorage = map[string]time.Duration{
	classIA:           30 * 24 * time.Hour,
	classArchive:      60 * 24 * time.Hour,
	classColdArchive:  180 * 24 * time.Hour,
	classDeepColdArch: 180 * 24 * time.Hour,
}

// billedSize is what OSS bills an object for: at least 64 KB outside Standard.
func billedSize(class string, size int64) int64 {
	if class != classStandard && size < 64<<10 {
		return 64 << 10
	}
	return size
}

// Usage is one bucket's billing-relevant bookkeeping on the simulation clock: what a storage
// tiering policy costs. Figures are per storage class.
type Usage struct {
	Since, Until time.Time
	// StoredBytes is the billed size (64 KB minimum outside Standard) stored now.
	StoredBytes map[string]int64
	// ByteHours integrates StoredBytes over time.
	ByteHours map[string]float64
	// EarlyDeletionByteHours is the remainder of the minimum storage duration billed for
	// objects removed, overwritten or moved to another class too early.
	EarlyDeletionByteHours map[string]float64
	// RetrievedBytes counts reads of IA objects and restores of archived ones (billed as
	// data retrieval), and reads of everything else for reference.
	RetrievedBytes map[string]int64
}

// usageMeter keeps a bucket's Usage; callers hold the bucket lock.
type usageMeter struct {
	Since          time.Time          `json:"since"`
	Last           time.Time          `json:"last"`
	Bytes          map[string]int64   `json:"-"`
	ByteHours      map[string]float64 `json:"byteHours"`
	EarlyByteHours map[string]float64 `json:"earlyByteHours"`
	RetrievedBytes map[string]int64   `json:"retrievedBytes"`
}

func (u *usageMeter) start(t time.Time) {
	u.Since, u.Last = t, t
	u.Bytes = map[string]int64{}
	u.ByteHours = map[string]float64{}
	u.EarlyByteHours = map[string]float64{}
	u.RetrievedBytes = map[string]int64{}
}

// advance integrates the stored bytes up to now. A clock that went backwards adds nothing.
func (u *usageMeter) advance(now time.Time) {
	if now.After(u.Last) {
		h := now.Sub(u.Last).Hours()
		for class, n := range u.Bytes {
			u.ByteHours[class] += float64(n) * h
		}
		u.Last = now
	}
}

// replace accounts for old giving way to new (either may be nil).
func (u *usageMeter) replace(now time.Time, old, new *object) {
	u.advance(now)
	if old != nil {
		u.Bytes[old.Class] -= billedSize(old.Class, old.Size)
		// A metadata-only change (restore, ACL) keeps the version; anything else ends it.
		ended := new == nil || !new.Modified.Equal(old.Modified) || new.Class != old.Class
		if min := minStorage[old.Class]; ended && min > 0 {
			if age := now.Sub(old.Modified); age < min {
				u.EarlyByteHours[old.Class] += float64(billedSize(old.Class, old.Size)) * (min - age).Hours()
			}
		}
	}
	if new != nil {
		u.Bytes[new.Class] += billedSize(new.Class, new.Size)
	}
}

func (u *usageMeter) retrieve(class string, n int64) {
	u.RetrievedBytes[class] += n
}

func copyMap[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Usage reports a bucket's bookkeeping up to the simulation clock's now.
func (s *Server) Usage(bucket string) (Usage, error) {
	b := s.bucket(bucket)
	if b == nil {
		return Usage{}, fmt.Errorf("ossemu: no bucket %q", bucket)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.usage.advance(s.now())
	return Usage{Since: b.usage.Since, Until: b.usage.Last, StoredBytes: copyMap(b.usage.Bytes),
		ByteHours: copyMap(b.usage.ByteHours), EarlyDeletionByteHours: copyMap(b.usage.EarlyByteHours),
		RetrievedBytes: copyMap(b.usage.RetrievedBytes)}, nil
}

func (s *Server) saveUsage(b *bucket) error {
	b.mu.Lock()
	b.usage.advance(s.now())
	u := b.usage
	u.ByteHours, u.EarlyByteHours, u.RetrievedBytes = copyMap(u.ByteHours), copyMap(u.EarlyByteHours), copyMap(u.RetrievedBytes)
	b.mu.Unlock()
	if _, err := os.Stat(b.dir); errors.Is(err, fs.ErrNotExist) {
		return nil // deleted meanwhile
	}
	return s.writeJSON(filepath.Join(b.dir, "usage.json"), u)
}

// loadUsage restores the saved bookkeeping (a crash loses what accrued since the last Close)
// and recomputes what is stored now from the objects.
func (s *Server) loadUsage(b *bucket) {
	now := s.now()
	b.usage.start(now)
	if raw, err := os.ReadFile(filepath.Join(b.dir, "usage.json")); err == nil {
		var saved usageMeter
		if json.Unmarshal(raw, &saved) == nil && !saved.Since.IsZero() {
			b.usage.Since, b.usage.Last = saved.Since, saved.Last
			for k, v := range saved.ByteHours {
				b.usage.ByteHours[k] = v
			}
			for k, v := range saved.EarlyByteHours {
				b.usage.EarlyByteHours[k] = v
			}
			for k, v := range saved.RetrievedBytes {
				b.usage.RetrievedBytes[k] = v
			}
		}
	}
	if b.usage.Last.After(now) {
		b.usage.Last = now
	}
	for _, o := range b.objects {
		b.usage.Bytes[o.Class] += billedSize(o.Class, o.Size)
	}
}
