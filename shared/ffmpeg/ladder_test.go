package ffmpeg

import (
	"fmt"
	"strings"
	"testing"
)

func TestPlanLadder(t *testing.T) {
	cases := []struct {
		name string
		m    Media
		want string // name:WxH@video/audio kb/s, largest first
	}{
		{"1080p source, high bitrate", Media{Width: 1920, Height: 1080, VideoBitrate: 20_000_000, HasAudio: true, AudioBitrate: 192_000},
			"1080p:1920x1080@6000/128 720p:1280x720@3000/128 480p:854x480@1200/96 360p:640x360@500/64"},
		{"720p source: nothing above it", Media{Width: 1280, Height: 720, VideoBitrate: 4_000_000, HasAudio: true, AudioBitrate: 128_000},
			"720p:1280x720@3000/128 480p:854x480@1200/96 360p:640x360@500/64"},
		{"cap at source bitrate x1.3", Media{Width: 1920, Height: 1080, VideoBitrate: 1_000_000, HasAudio: true, AudioBitrate: 128_000},
			"1080p:1920x1080@1300/128 720p:1280x720@1300/128 480p:854x480@1200/96 360p:640x360@500/64"},
		{"portrait phone video scales on width", Media{Width: 1080, Height: 1920, VideoBitrate: 10_000_000, HasAudio: true, AudioBitrate: 128_000},
			"1080p:1080x1920@6000/128 720p:720x1280@3000/128 480p:480x854@1200/96 360p:360x640@500/64"},
		{"scope film keeps its aspect", Media{Width: 1920, Height: 800, VideoBitrate: 8_000_000},
			"1080p:1920x800@4444/0 720p:1280x534@2225/0 480p:854x356@890/0 360p:640x266@369/0"},
		{"4:3 at 1080 lines", Media{Width: 1440, Height: 1080, VideoBitrate: 8_000_000, HasAudio: true},
			"1080p:1440x1080@4500/128 720p:960x720@2250/128 480p:640x480@899/96 360p:480x360@375/64"},
		{"between rungs", Media{Width: 1000, Height: 562, VideoBitrate: 2_000_000, HasAudio: true, AudioBitrate: 48_000},
			"480p:854x480@1200/64 360p:640x360@500/64"},
		{"smaller than every rung", Media{Width: 320, Height: 180, VideoBitrate: 300_000, HasAudio: true, AudioBitrate: 64_000},
			"360p:320x180@150/64"},
		{"odd source size rounds to even", Media{Width: 641, Height: 361, VideoBitrate: 900_000},
			"360p:640x360@500/0"},
		{"square", Media{Width: 1080, Height: 1080, VideoBitrate: 5_000_000},
			"1080p:1080x1080@3375/0 720p:720x720@1687/0 480p:480x480@674/0 360p:360x360@281/0"},
		{"no bitrate known: no cap", Media{Width: 1280, Height: 720},
			"720p:1280x720@3000/0 480p:854x480@1200/0 360p:640x360@500/0"},
		{"floor", Media{Width: 640, Height: 360, VideoBitrate: 50_000},
			"360p:640x360@150/0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan, err := PlanLadder(&c.m, DefaultLadder())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range plan {
				got = append(got, fmt.Sprintf("%s:%dx%d@%d/%d", r.Name, r.Width, r.Height, r.VideoBitrate/1000, r.AudioBitrate/1000))
				if r.Width > c.m.Width || r.Height > c.m.Height || r.Width%2 != 0 || r.Height%2 != 0 {
					t.Errorf("rung %+v: above the source or odd", r)
				}
			}
			if s := strings.Join(got, " "); s != c.want {
				t.Errorf("got  %s\nwant %s", s, c.want)
			}
		})
	}
}

func TestLadderConfigCheck(t *testing.T) {
	bad := []LadderConfig{
		{},
		{Rungs: []Rung{{Name: "../x", Width: 10, Height: 10, VideoBitrate: 1, AudioBitrate: 1}}},
		{Rungs: []Rung{{Name: "a", Width: 10, Height: 10, VideoBitrate: 1, AudioBitrate: 1}, {Name: "a", Width: 8, Height: 8, VideoBitrate: 1, AudioBitrate: 1}}},
		{Rungs: []Rung{{Name: "a", Width: 10, Height: 10, VideoBitrate: 0, AudioBitrate: 1}}},
	}
	for i, c := range bad {
		if _, err := PlanLadder(&Media{Width: 100, Height: 100}, c); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
	if _, err := PlanLadder(&Media{}, DefaultLadder()); err == nil {
		t.Error("media without size accepted")
	}
}
