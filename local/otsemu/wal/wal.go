// Package wal owns the emulator's write-ahead log: an append-only sequence of numbered,
// checksummed records split over segment files, written by one flusher goroutine that
// commits whatever accumulated since its last write in a single write and fsync (group
// commit), so many concurrent writers share one fsync.
//
// A record is acknowledged (Wait returns) only once it is on disk. On open, the log replays
// every record; a torn or corrupt tail in the newest segment - what a kill -9 or power loss in
// the middle of a write leaves - is cut off, so a half-written record is never replayed.
package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// frame layout: u32 payload length | u32 crc32c(seq || payload) | u64 seq | payload.
const frameHeader = 16

// MaxRecord bounds one record so a corrupt length can never make replay allocate gigabytes.
const MaxRecord = 64 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options tune the log.
type Options struct {
	// NoSync skips fsync: records survive the process being killed (they are in the page
	// cache) but not an operating-system crash. Tests that do not care use it for speed.
	NoSync bool
	// SegmentSize starts a new segment file once the current one exceeds it (default 64 MiB).
	SegmentSize int64
}

// ErrClosed is returned by operations on a closed log.
var ErrClosed = errors.New("wal: closed")

// Log is an open write-ahead log. Append and Wait are safe for concurrent use.
type Log struct {
	dir  string
	opts Options

	mu       sync.Mutex
	durable  *sync.Cond // broadcast when durableSeq advances or err is set
	pending  []byte     // framed records not yet handed to the flusher
	spare    []byte
	lastSeq  uint64 // last sequence number assigned
	flushed  uint64 // last sequence number on disk
	err      error  // sticky write error
	closed   bool
	stopped  bool      // the flusher has exited
	segments []segment // oldest first; the last one is open for appending
	written  int64     // bytes appended since Open (for checkpoint policy)

	fileMu sync.Mutex // serialises file writes, syncs and rotations
	f      *os.File
	fSize  int64

	kick chan struct{}
	done chan struct{}
}

type segment struct {
	first uint64 // sequence number of its first record
	path  string
}

func segmentName(first uint64) string { return fmt.Sprintf("%016x.wal", first) }

// Open opens (creating if needed) the log in dir and replays every record whose sequence
// number is greater than after, in order, through replay. A torn tail is truncated away.
func Open(dir string, opts Options, after uint64, replay func(seq uint64, rec []byte) error) (*Log, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = 64 << 20
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	l := &Log{dir: dir, opts: opts, kick: make(chan struct{}, 1), done: make(chan struct{})}
	l.durable = sync.NewCond(&l.mu)
	segs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	last := after
	for i, s := range segs {
		end, err := replaySegment(s, i == len(segs)-1, after, replay)
		if err != nil {
			return nil, err
		}
		last = max(last, end)
	}
	l.segments = segs
	l.lastSeq, l.flushed = last, last
	if err := l.startSegment(last + 1); err != nil {
		return nil, err
	}
	go l.flusher()
	return l, nil
}

func listSegments(dir string) ([]segment, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	var segs []segment
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".wal") {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(name, ".wal"), 16, 64)
		if err != nil {
			continue
		}
		segs = append(segs, segment{first: first, path: filepath.Join(dir, name)})
	}
	slices.SortFunc(segs, func(a, b segment) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	return segs, nil
}

// replaySegment reads one segment, returning the last sequence number it holds. In the newest
// segment a bad record ends the log: the file is truncated there. In an older one it is
// corruption that replay cannot repair.
func replaySegment(s segment, newest bool, after uint64, replay func(uint64, []byte) error) (uint64, error) {
	f, err := os.OpenFile(s.path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("wal: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	var last uint64
	expect := s.first
	hdr := make([]byte, frameHeader)
	var payload []byte
	for {
		bad := ""
		if _, err := io.ReadFull(r, hdr); err != nil {
			if err == io.EOF {
				return last, nil
			}
			bad = "short record header"
		}
		var n uint32
		var seq uint64
		if bad == "" {
			n = binary.LittleEndian.Uint32(hdr[0:])
			seq = binary.LittleEndian.Uint64(hdr[8:])
			switch {
			case n > MaxRecord:
				bad = fmt.Sprintf("record length %d", n)
			case seq != expect:
				bad = fmt.Sprintf("sequence %d where %d was expected", seq, expect)
			}
		}
		if bad == "" {
			payload = slices.Grow(payload[:0], int(n))[:n]
			if _, err := io.ReadFull(r, payload); err != nil {
				bad = "short record"
			} else if crc32.Update(crc32.Checksum(hdr[8:16], castagnoli), castagnoli, payload) != binary.LittleEndian.Uint32(hdr[4:]) {
				bad = "checksum mismatch"
			}
		}
		if bad != "" {
			if !newest {
				return 0, fmt.Errorf("wal: %s: corrupt at offset %d (%s) in a segment that is not the newest", s.path, off, bad)
			}
			if err := f.Truncate(off); err != nil {
				return 0, fmt.Errorf("wal: truncating torn tail of %s: %w", s.path, err)
			}
			if err := f.Sync(); err != nil {
				return 0, fmt.Errorf("wal: %w", err)
			}
			return last, nil
		}
		if seq > after {
			if err := replay(seq, payload); err != nil {
				return 0, fmt.Errorf("wal: replaying record %d: %w", seq, err)
			}
		}
		last = seq
		expect++
		off += frameHeader + int64(n)
	}
}

// startSegment creates the segment whose first record will be first. Callers hold fileMu or
// run before the flusher starts.
func (l *Log) startSegment(first uint64) error {
	path := filepath.Join(l.dir, segmentName(first))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("wal: %w", err)
	}
	if st.Size() != 0 {
		// Only possible if a segment with this first sequence survived a truncation to
		// empty; its content is already replayed, so appending after it is correct.
		l.fSize = st.Size()
	} else {
		l.fSize = 0
	}
	if err := syncDir(l.dir); err != nil {
		f.Close()
		return err
	}
	if l.f != nil {
		l.f.Close()
	}
	l.f = f
	l.mu.Lock()
	if n := len(l.segments); n == 0 || l.segments[n-1].path != path {
		l.segments = append(l.segments, segment{first: first, path: path})
	}
	l.mu.Unlock()
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("wal: syncing %s: %w", dir, err)
	}
	return nil
}

// Append queues rec and returns its sequence number. The record is durable once Wait(seq)
// returns nil. Records are numbered and written in the order Append is called.
func (l *Log) Append(rec []byte) (uint64, error) {
	if len(rec) > MaxRecord {
		return 0, fmt.Errorf("wal: record of %d bytes exceeds %d", len(rec), MaxRecord)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	if l.err != nil {
		err := l.err
		l.mu.Unlock()
		return 0, err
	}
	l.lastSeq++
	seq := l.lastSeq
	var hdr [frameHeader]byte
	binary.LittleEndian.PutUint32(hdr[0:], uint32(len(rec)))
	binary.LittleEndian.PutUint64(hdr[8:], seq)
	binary.LittleEndian.PutUint32(hdr[4:], crc32.Update(crc32.Checksum(hdr[8:16], castagnoli), castagnoli, rec))
	l.pending = append(append(l.pending, hdr[:]...), rec...)
	l.written += int64(frameHeader + len(rec))
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	return seq, nil
}

// Wait blocks until record seq is on disk, or the log failed.
func (l *Log) Wait(seq uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.flushed < seq && l.err == nil {
		if l.stopped {
			return ErrClosed
		}
		l.durable.Wait()
	}
	if l.flushed >= seq {
		return nil
	}
	return l.err
}

// LastSeq returns the sequence number of the newest appended record.
func (l *Log) LastSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastSeq
}

// Written returns how many bytes were appended since Open.
func (l *Log) Written() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.written
}

func (l *Log) flusher() {
	defer close(l.done)
	for {
		l.mu.Lock()
		for len(l.pending) == 0 && !l.closed {
			l.mu.Unlock()
			<-l.kick
			l.mu.Lock()
		}
		if len(l.pending) == 0 && l.closed {
			l.stopped = true
			l.durable.Broadcast()
			l.mu.Unlock()
			return
		}
		buf, upTo := l.pending, l.lastSeq
		l.pending, l.spare = l.spare[:0], nil
		l.mu.Unlock()

		l.fileMu.Lock()
		err := l.writeLocked(buf, upTo)
		l.fileMu.Unlock()

		l.mu.Lock()
		if err != nil && l.err == nil {
			l.err = err
		}
		if err == nil {
			l.flushed = upTo
		}
		if cap(buf) <= 4<<20 {
			l.spare = buf[:0]
		}
		l.durable.Broadcast()
		l.mu.Unlock()
	}
}

// writeLocked writes one batch and syncs it, rotating first if the segment is full. The
// batch's first record number is upTo minus the records in it, which is what the new segment
// is named after.
func (l *Log) writeLocked(buf []byte, upTo uint64) error {
	if l.fSize >= l.opts.SegmentSize {
		first := upTo - uint64(countFrames(buf)) + 1
		if err := l.syncLocked(); err != nil {
			return err
		}
		if err := l.startSegment(first); err != nil {
			return err
		}
	}
	if _, err := l.f.Write(buf); err != nil {
		return fmt.Errorf("wal: write: %w", err)
	}
	l.fSize += int64(len(buf))
	return l.syncLocked()
}

func (l *Log) syncLocked() error {
	if l.opts.NoSync {
		return nil
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("wal: fsync: %w", err)
	}
	return nil
}

func countFrames(buf []byte) int {
	n := 0
	for len(buf) >= frameHeader {
		size := int(binary.LittleEndian.Uint32(buf))
		buf = buf[frameHeader+size:]
		n++
	}
	return n
}

// Rotate makes every record appended so far durable and starts a new segment, so that the
// older segments can be deleted once a snapshot covers them. It returns the sequence number
// of the last record in the closed segments. The caller must prevent concurrent Appends.
func (l *Log) Rotate() (uint64, error) {
	seq := l.LastSeq()
	if err := l.Wait(seq); err != nil {
		return 0, err
	}
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	if l.fSize == 0 {
		return seq, nil
	}
	if err := l.syncLocked(); err != nil {
		return 0, err
	}
	if err := l.startSegment(seq + 1); err != nil {
		return 0, err
	}
	return seq, nil
}

// Discard deletes every segment whose records all have sequence numbers <= upTo: a snapshot
// now holds their effect.
func (l *Log) Discard(upTo uint64) error {
	l.mu.Lock()
	var drop []segment
	keep := l.segments[:0:0]
	for i, s := range l.segments {
		last := i == len(l.segments)-1
		if !last && l.segments[i+1].first <= upTo+1 {
			drop = append(drop, s)
		} else {
			keep = append(keep, s)
		}
	}
	l.segments = keep
	l.mu.Unlock()
	for _, s := range drop {
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("wal: %w", err)
		}
	}
	if len(drop) > 0 {
		return syncDir(l.dir)
	}
	return nil
}

// Close flushes what is pending and closes the log.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	<-l.done
	l.mu.Lock()
	l.durable.Broadcast()
	err := l.err
	l.mu.Unlock()
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}
