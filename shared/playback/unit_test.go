package playback

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"vodfc.dev/vodfc"
)

func TestTokenBindsEveryField(t *testing.T) {
	k, err := NewTokens(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	tok := Token{Video: vodfc.NewID(), Viewer: vodfc.NewID(), Tier: vodfc.TierMember, Expires: now.Add(time.Hour)}
	s := k.Sign(tok)
	got, err := k.Verify(s, now)
	if err != nil || got.Video != tok.Video || got.Viewer != tok.Viewer || got.Tier != tok.Tier || !got.Expires.Equal(tok.Expires) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	// Any change to the payload, however it is re-encoded, breaks the MAC.
	payload, mac, _ := strings.Cut(s, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	for _, change := range [][2]string{{"member", "free"}, {tok.Viewer, vodfc.NewID()}, {tok.Video, vodfc.NewID()}, {"\n18000036", "\n19000036"}} {
		forged := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(raw), change[0], change[1], 1)))
		if _, err := k.Verify(forged+"."+mac, now); !vodfc.IsCode(err, CodeInvalidToken) {
			t.Errorf("changing %q verified: %v", change[0], err)
		}
	}
	if _, err := k.Verify(s, now.Add(time.Hour)); !vodfc.IsCode(err, CodeTokenExpired) || !vodfc.IsKind(err, vodfc.KindForbidden) {
		t.Errorf("at expiry: %v", err)
	}
	other, _ := NewTokens(bytes.Repeat([]byte{2}, 32))
	if _, err := other.Verify(s, now); !vodfc.IsCode(err, CodeInvalidToken) {
		t.Errorf("another key verified it: %v", err)
	}
	for _, junk := range []string{"", ".", "a.b", payload, strings.Repeat("x", 2000) + "." + mac} {
		if _, err := k.Verify(junk, now); !vodfc.IsCode(err, CodeInvalidToken) {
			t.Errorf("%q verified: %v", junk, err)
		}
	}
	if _, err := NewTokens(make([]byte, 31)); err == nil {
		t.Error("a 31-byte key was accepted")
	}
	if _, err := ParseKey(base64.StdEncoding.EncodeToString(make([]byte, 16))); err == nil {
		t.Error("a 16-byte key was accepted")
	}
	if b, err := ParseKey(base64.RawURLEncoding.EncodeToString(make([]byte, 32))); err != nil || len(b) != 32 {
		t.Errorf("ParseKey: %v", err)
	}
}

func r(w, h, bw int) vodfc.Rendition { return vodfc.Rendition{Width: w, Height: h, Bandwidth: bw} }

func TestSelectByTierAndAvailability(t *testing.T) {
	ladder := []vodfc.Rendition{r(1920, 1080, 6000), r(1280, 720, 3000), r(854, 480, 1200), r(640, 360, 500)}
	p := DefaultPolicy()
	cases := []struct {
		name                           string
		rs                             []vodfc.Rendition
		tier                           vodfc.Tier
		avail                          []Availability
		playable, membersOnly, unavail []int
	}{
		{"free", ladder, vodfc.TierFree, nil, []int{1, 2, 3}, []int{0}, nil},
		{"member", ladder, vodfc.TierMember, nil, []int{1, 0, 2, 3}, nil, nil},
		{"unknown tier counts as free", ladder, "gold", nil, []int{1, 2, 3}, []int{0}, nil},
		// A 1080x1920 portrait rung is a 1080p: members only, though its width is 1080.
		{"portrait", []vodfc.Rendition{r(1080, 1920, 6000), r(720, 1280, 3000)}, vodfc.TierFree, nil, []int{1}, []int{0}, nil},
		// A video with nothing at or below 720p still plays its smallest rung for everyone.
		{"only large", []vodfc.Rendition{r(3840, 2160, 9000), r(1920, 1080, 6000)}, vodfc.TierFree, nil, []int{1}, []int{0}, nil},
		{"archived", ladder, vodfc.TierMember, []Availability{Archived, Available, Restoring, Available}, []int{1, 3}, nil, []int{0, 2}},
		{"archived and members only", ladder, vodfc.TierFree, []Availability{Archived, Archived, Available, Available}, []int{2, 3}, []int{0}, []int{1}},
	}
	for _, c := range cases {
		s := Select(c.rs, c.tier, p, c.avail)
		if !equal(s.Playable, c.playable) || !equal(s.MembersOnly, c.membersOnly) || !equal(s.Unavailable, c.unavail) {
			t.Errorf("%s: got %+v", c.name, s)
		}
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTypeASigningMatchesTheDocumentedExample(t *testing.T) {
	// The worked example of type-A signing: uri /test.jpg, timestamp 1582791032, rand
	// im1acp76sx9sdqe601v, uid 0, key dimtm5evg50ijsx2hvuwyfoiu65.
	got := SignTypeA("http://cdn.example.com/test.jpg", "/test.jpg", 1582791032, "im1acp76sx9sdqe601v", "dimtm5evg50ijsx2hvuwyfoiu65")
	want := "http://cdn.example.com/test.jpg?auth_key=1582791032-im1acp76sx9sdqe601v-0-3fbb88382c9356b6faaf9d68c7b2ae3a"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestCDNSignerSetsTheTimestampSoTheURLExpiresOnTime(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := CDNSigner{Base: "https://cdn.example.com/", Key: "k3y-for-cdn", Validity: 30 * time.Minute, Now: func() time.Time { return now }, Rand: func() string { return "r4nd" }}
	u, err := s.SignGet("media/v/a/720p.mp4", now.Add(6*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ts := now.Add(6*time.Hour - 30*time.Minute).Unix()
	want := SignTypeA("https://cdn.example.com/media/v/a/720p.mp4", "/media/v/a/720p.mp4", ts, "r4nd", "k3y-for-cdn")
	if u != want {
		t.Fatalf("got %s want %s", u, want)
	}
	// An expiry sooner than the CDN's validity cannot be expressed earlier than now.
	u, _ = s.SignGet("x.mp4", now.Add(time.Minute))
	if !strings.Contains(u, "auth_key=1800000000-") {
		t.Fatalf("short expiry: %s", u)
	}
	if _, err := (CDNSigner{Base: "ftp://x"}).SignGet("a", now); err == nil {
		t.Fatal("a non-HTTP CDN base was accepted")
	}
}
