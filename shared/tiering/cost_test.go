package tiering

import (
	"math"
	"strings"
	"testing"
	"time"

	"vodfc.dev/vodfc/oss"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func TestJudgeMovesFreelyOnceTheMinimumDurationIsOver(t *testing.T) {
	p := DefaultPrices()
	v := p.Judge(oss.IA, oss.Archive, 100<<20, t0, t0.Add(31*Day), 30*Day, Usage{})
	if !v.Move || v.EarlyCharge != 0 || v.Remaining != 0 {
		t.Fatalf("after 31 days in IA: %+v", v)
	}
	// Standard has no minimum at all.
	if v := p.Judge(oss.Standard, oss.IA, 100<<20, t0, t0, 30*Day, Usage{}); !v.Move || v.EarlyCharge != 0 {
		t.Fatalf("from Standard: %+v", v)
	}
}

func TestJudgeNeverMovesDownEarly(t *testing.T) {
	// Leaving IA after 10 days bills the 20 remaining days at once; waiting costs the same
	// storage and then saves as much, so an early move down never pays.
	p := DefaultPrices()
	v := p.Judge(oss.IA, oss.Archive, 1<<30, t0, t0.Add(10*Day), 30*Day, Usage{})
	if v.Move {
		t.Fatalf("moved down early: %+v", v)
	}
	want := 0.08 * 20.0 / 30.0
	if math.Abs(v.EarlyCharge-want) > 1e-6 || v.Remaining != 20*Day {
		t.Fatalf("charge %v for 20 days of 1 GB of IA, want %v (%+v)", v.EarlyCharge, want, v)
	}
	if v.Saving >= v.EarlyCharge {
		t.Fatalf("saving %v should be below the charge %v", v.Saving, v.EarlyCharge)
	}
}

func TestJudgeMovesAWatchedRenditionUpEarlyWhenRetrievalOutweighsTheCharge(t *testing.T) {
	p := DefaultPrices()
	size := int64(1 << 30)
	// Read once a day in full: IA retrieval (0.0325/GB) beats Standard storage (0.004/GB-day).
	hot := p.Judge(oss.IA, oss.Standard, size, t0, t0.Add(5*Day), 30*Day, Usage{ReadBytesPerDay: float64(size)})
	if !hot.Move || hot.EarlyCharge <= 0 || hot.Saving <= hot.EarlyCharge {
		t.Fatalf("hot IA rendition: %+v", hot)
	}
	// Read a twentieth of a time a day: not worth it.
	lukewarm := p.Judge(oss.IA, oss.Standard, size, t0, t0.Add(5*Day), 30*Day, Usage{ReadBytesPerDay: float64(size) / 20})
	if lukewarm.Move {
		t.Fatalf("lukewarm IA rendition moved: %+v", lukewarm)
	}
	// An archived rendition people watch is restored every RestoreEvery: moving it is cheaper.
	arch := p.Judge(oss.Archive, oss.Standard, size, t0, t0.Add(20*Day), 30*Day, Usage{ReadBytesPerDay: 1, RestoreEvery: 2 * Day})
	if !arch.Move || arch.Remaining != 40*Day {
		t.Fatalf("watched Archive rendition: %+v", arch)
	}
}

func TestSmallObjectsAreBilledAs64KiBOutsideStandard(t *testing.T) {
	p := DefaultPrices()
	if BilledSize(oss.Standard, 1000) != 1000 || BilledSize(oss.IA, 1000) != MinBilledSize || BilledSize(oss.Archive, 1<<20) != 1<<20 {
		t.Fatal("billed sizes")
	}
	if p.Monthly(oss.IA, 1) != p.Monthly(oss.IA, MinBilledSize) {
		t.Fatal("a 1-byte IA object should cost what 64 KiB does")
	}
}

func TestParsePricesRejectsWhatItCannotRead(t *testing.T) {
	p, err := ParsePrices("Standard=0.15, IA=0.07/0.03")
	if err != nil || p[oss.Standard].Storage != 0.15 || p[oss.IA].Retrieval != 0.03 || p[oss.Archive].Storage != 0.033 {
		t.Fatalf("%+v %v", p, err)
	}
	for _, bad := range []string{"Glacier=0.01", "IA", "IA=cheap", "IA=0.08/-1", "Standard=-0.1"} {
		if _, err := ParsePrices(bad); err == nil || !strings.Contains(err.Error(), strings.Split(bad, "/")[0]) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestPolicyFromEnvNamesEveryProblem(t *testing.T) {
	env := map[string]string{"TIERING_COLD_WINDOW": "30d", "TIERING_READ_SHARE": "2", "TIERING_RESTORE_DAYS": "9", "TIERING_HOT_AT_LEAST": "x"}
	_, err := PolicyFromEnv(func(k string) string { return env[k] })
	for _, name := range []string{"TIERING_COLD_WINDOW", "TIERING_HOT_AT_LEAST"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("the error does not name %s: %v", name, err)
		}
	}
	env = map[string]string{"TIERING_READ_SHARE": "2", "TIERING_RESTORE_DAYS": "9", "TIERING_ARCHIVE_WINDOW": "240h"}
	_, err = PolicyFromEnv(func(k string) string { return env[k] })
	for _, name := range []string{"TIERING_READ_SHARE", "TIERING_RESTORE_DAYS", "TIERING_ARCHIVE_WINDOW"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("the error does not name %s: %v", name, err)
		}
	}
	env = map[string]string{"TIERING_COLD_BELOW": "3", "TIERING_PRICES": "Archive=0.03"}
	p, err := PolicyFromEnv(func(k string) string { return env[k] })
	if err != nil || p.ColdBelow != 3 || p.Prices[oss.Archive].Storage != 0.03 {
		t.Fatalf("%+v %v", p, err)
	}
}
