package danmaku

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html"
	"sort"
	"strconv"
	"time"
)

// Item is a danmaku as the JSON outputs show it: no user id, only the sender hash.
type Item struct {
	ID        string    `json:"id"`
	TimeMS    int64     `json:"time_ms"`
	Text      string    `json:"text"`
	Mode      Mode      `json:"mode"`
	Color     string    `json:"color"`
	Size      Size      `json:"size"`
	Sender    string    `json:"sender"`
	CreatedAt time.Time `json:"created_at"`
}

// Item renders d for JSON outputs.
func (d *Danmaku) Item() Item {
	return Item{ID: strconv.FormatInt(d.ID, 10), TimeMS: d.TimeMS, Text: d.Text, Mode: d.Mode,
		Color: fmt.Sprintf("#%06x", d.Color), Size: d.Size, Sender: d.Sender, CreatedAt: d.CreatedAt}
}

// SegmentDoc is the JSON of one segment.
type SegmentDoc struct {
	VideoID string `json:"video_id"`
	Segment int64  `json:"segment"`
	StartMS int64  `json:"start_ms"`
	EndMS   int64  `json:"end_ms"`
	Items   []Item `json:"items"`
}

// RenderSegment is the JSON document of segment seg, items in time order.
func RenderSegment(videoID string, seg int64, ds []*Danmaku) []byte {
	doc := SegmentDoc{VideoID: videoID, Segment: seg, StartMS: (seg - 1) * SegmentMS, EndMS: seg * SegmentMS, Items: make([]Item, len(ds))}
	for i, d := range ds {
		doc.Items[i] = d.Item()
	}
	b, _ := json.Marshal(doc)
	return b
}

// Bilibili's numbers for modes and sizes (REFERENCE §7).
func biliMode(m Mode) int {
	switch m {
	case Top:
		return 5
	case Bottom:
		return 4
	}
	return 1
}

func biliSize(s Size) int {
	switch s {
	case Small:
		return 18
	case Large:
		return 36
	}
	return 25
}

// RenderXML is the Bilibili-style XML of a video's danmaku that ArtPlayer (and many tools)
// load from a URL: <d p="time,mode,size,color,ctime,pool,sender,dmid">text</d>, time in
// seconds with 5 decimals, colour as decimal RGB, texts escaped.
func RenderXML(videoID string, maxLimit int, ds []*Danmaku) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<i>")
	b.WriteString("<chatserver>vodfc</chatserver><chatid>")
	_ = xml.EscapeText(&b, []byte(videoID))
	fmt.Fprintf(&b, "</chatid><mission>0</mission><maxlimit>%d</maxlimit><state>0</state><real_name>0</real_name><source>k-v</source>", maxLimit)
	for _, d := range ds {
		fmt.Fprintf(&b, `<d p="%.5f,%d,%d,%d,%d,0,%s,%d">`, float64(d.TimeMS)/1000, biliMode(d.Mode), biliSize(d.Size), d.Color,
			d.CreatedAt.Unix(), d.Sender, d.ID)
		_ = xml.EscapeText(&b, []byte(d.Text))
		b.WriteString("</d>")
	}
	b.WriteString("</i>\n")
	return b.Bytes()
}

// DPlayer's type numbers.
func dplayerType(m Mode) int {
	switch m {
	case Top:
		return 1
	case Bottom:
		return 2
	}
	return 0
}

func modeOfDPlayer(t int) (Mode, bool) {
	switch t {
	case 0:
		return Scroll, true
	case 1:
		return Top, true
	case 2:
		return Bottom, true
	}
	return "", false
}

// RenderDPlayer is DPlayer's v3 list: {"code":0,"data":[[time_s, type, color, author, text]]}
// with author and text HTML-escaped, as DPlayer inserts them into the page.
func RenderDPlayer(ds []*Danmaku) []byte {
	data := make([][5]any, len(ds))
	for i, d := range ds {
		data[i] = [5]any{float64(d.TimeMS) / 1000, dplayerType(d.Mode), d.Color, html.EscapeString(d.Sender), html.EscapeString(d.Text)}
	}
	b, _ := json.Marshal(struct {
		Code int      `json:"code"`
		Data [][5]any `json:"data"`
	}{0, data})
	return b
}

// HeatPoint is one bar of ArtPlayer's heatmap.
type HeatPoint struct {
	Time  int64 `json:"time"`  // start of the bucket, seconds
	Value int64 `json:"value"` // danmaku in it
}

// RenderHeatmap counts danmaku per bucketS seconds over [0, duration); a video of unknown
// length is covered up to its last danmaku. The values sum to len(ds).
func RenderHeatmap(durationMS int64, bucketS int64, ds []*Danmaku) []byte {
	end := durationMS
	for _, d := range ds {
		end = max(end, d.TimeMS+1)
	}
	width := bucketS * 1000
	n := (end + width - 1) / width
	points := make([]HeatPoint, n)
	for i := range points {
		points[i].Time = int64(i) * bucketS
	}
	for _, d := range ds {
		points[d.TimeMS/width].Value++
	}
	b, _ := json.Marshal(points)
	return b
}

// newest keeps the n most recently posted of ds (ids follow posting time), in time order.
func newest(ds []*Danmaku, n int) []*Danmaku {
	if len(ds) <= n {
		return ds
	}
	byID := append([]*Danmaku(nil), ds...)
	sort.Slice(byID, func(i, j int) bool { return byID[i].ID > byID[j].ID })
	keep := byID[:n]
	sort.Slice(keep, func(i, j int) bool { return less(keep[i], keep[j]) })
	return keep
}

// less is the order of the danmaku table: time, then id.
func less(a, b *Danmaku) bool {
	if a.TimeMS != b.TimeMS {
		return a.TimeMS < b.TimeMS
	}
	return a.ID < b.ID
}
