package otsemu

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	pb "github.com/aliyun/aliyun-tablestore-go-sdk/tablestore/otsprotocol"
	"github.com/golang/protobuf/proto"

	"vodfc.dev/local/otsemu/plainbuffer"
	"vodfc.dev/local/otsemu/wal"
)

// Durable state is a snapshot (every table and row as of one log record) plus the log records
// after it. Log records are logical and idempotent: a table definition, a row's complete new
// image, or a deletion, so replay never re-evaluates conditions or clocks.

const (
	recCreateTable byte = 1
	recUpdateTable byte = 2
	recDeleteTable byte = 3
	recPutRow      byte = 4
	recDeleteRow   byte = 5
)

var snapshotMagic = []byte("OTSEMU\x00\x01")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ---------------------------------------------------------------------------------------------
// Binary encoding of tables and rows.

func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
func appendVarint(b []byte, v int64) []byte   { return binary.AppendVarint(b, v) }
func appendBytes(b, v []byte) []byte          { return append(appendUvarint(b, uint64(len(v))), v...) }
func appendString(b []byte, v string) []byte  { return append(appendUvarint(b, uint64(len(v))), v...) }

func appendValue(b []byte, v plainbuffer.Value) []byte {
	b = append(b, byte(v.Type))
	switch v.Type {
	case plainbuffer.TypeInteger:
		b = appendVarint(b, v.Int)
	case plainbuffer.TypeDouble:
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Float))
	case plainbuffer.TypeBoolean:
		if v.Bool {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	default:
		b = appendBytes(b, v.Bytes)
	}
	return b
}

func appendPK(b []byte, pk []plainbuffer.Value) []byte {
	b = appendUvarint(b, uint64(len(pk)))
	for _, v := range pk {
		b = appendValue(b, v)
	}
	return b
}

func appendRow(b []byte, r *row) []byte {
	b = appendPK(b, r.pk)
	b = appendVarint(b, r.marker)
	b = appendUvarint(b, uint64(len(r.cols)))
	for _, c := range r.cols {
		b = appendString(b, c.name)
		b = appendUvarint(b, uint64(len(c.versions)))
		for _, v := range c.versions {
			b = appendVarint(b, v.ts)
			b = appendValue(b, v.val)
		}
	}
	return b
}

// appendTableDef encodes a table's definition and mutable settings. Callers hold t.mu.
func appendTableDef(b []byte, t *table) []byte {
	meta, err := proto.Marshal(t.meta)
	if err != nil {
		panic(fmt.Sprintf("otsemu: marshalling table meta: %v", err)) // meta was built by validateCreate
	}
	b = appendString(b, t.name)
	b = appendBytes(b, meta)
	for _, v := range []int64{int64(t.opt.ttl), int64(t.opt.maxVersions), t.opt.deviation, int64(t.readCU), int64(t.writeCU), t.created, t.lastIncrease, t.lastDecrease, t.autoInc} {
		b = appendVarint(b, v)
	}
	return b
}

func encodeTableRecord(kind byte, t *table) []byte { return appendTableDef([]byte{kind}, t) }
func encodeNameRecord(kind byte, name string) []byte {
	return appendString([]byte{kind}, name)
}
func encodeRowRecord(kind byte, table string, r *row) []byte {
	return appendRow(appendString([]byte{kind}, table), r)
}
func encodeKeyRecord(kind byte, table string, pk []plainbuffer.Value) []byte {
	return appendPK(appendString([]byte{kind}, table), pk)
}

// decoder reads the encoding above, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("corrupt %s", what)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) count(what string) int {
	n := d.uvarint(what)
	if n > uint64(len(d.b)) { // every element takes at least one byte
		d.fail(what)
		return 0
	}
	return int(n)
}

func (d *decoder) bytes(what string) []byte {
	n := d.count(what)
	if d.err != nil {
		return nil
	}
	v := bytes.Clone(d.b[:n])
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte1(what string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail(what)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) value() plainbuffer.Value {
	v := plainbuffer.Value{Type: plainbuffer.Type(d.byte1("value type"))}
	switch v.Type {
	case plainbuffer.TypeInteger:
		v.Int = d.varint("integer")
	case plainbuffer.TypeDouble:
		if len(d.b) < 8 {
			d.fail("double")
			return v
		}
		v.Float = math.Float64frombits(binary.LittleEndian.Uint64(d.b))
		d.b = d.b[8:]
	case plainbuffer.TypeBoolean:
		v.Bool = d.byte1("boolean") != 0
	case plainbuffer.TypeString, plainbuffer.TypeBlob:
		v.Bytes = d.bytes("string")
	default:
		d.fail("value type")
	}
	return v
}

func (d *decoder) pk() []plainbuffer.Value {
	n := d.count("primary key")
	pk := make([]plainbuffer.Value, 0, n)
	for range n {
		pk = append(pk, d.value())
	}
	return pk
}

func (d *decoder) row() *row {
	r := &row{pk: d.pk(), marker: d.varint("marker")}
	n := d.count("columns")
	r.cols = make([]column, 0, n)
	for range n {
		c := column{name: string(d.bytes("column name"))}
		nv := d.count("versions")
		c.versions = make([]version, 0, nv)
		for range nv {
			ts := d.varint("timestamp")
			c.versions = append(c.versions, version{ts: ts, val: d.value()})
		}
		r.cols = append(r.cols, c)
	}
	r.key = appendKey(nil, r.pk)
	return r
}

func (d *decoder) tableDef() (*table, error) {
	name := string(d.bytes("table name"))
	metaBytes := d.bytes("table meta")
	var f [9]int64
	for i := range f {
		f[i] = d.varint("table settings")
	}
	if d.err != nil {
		return nil, d.err
	}
	meta := &pb.TableMeta{}
	if err := proto.Unmarshal(metaBytes, meta); err != nil {
		return nil, fmt.Errorf("table %s: %w", name, err)
	}
	t, e := validateCreate(&pb.CreateTableRequest{
		TableMeta:          meta,
		ReservedThroughput: &pb.ReservedThroughput{CapacityUnit: &pb.CapacityUnit{Read: proto.Int32(int32(f[3])), Write: proto.Int32(int32(f[4]))}},
		TableOptions:       &pb.TableOptions{TimeToLive: proto.Int32(int32(f[0])), MaxVersions: proto.Int32(int32(f[1])), DeviationCellVersionInSec: proto.Int64(f[2])},
	})
	if e != nil {
		return nil, fmt.Errorf("table %s: %s", name, e.message)
	}
	if t.name != name {
		return nil, fmt.Errorf("table record %q holds meta of %q", name, t.name)
	}
	t.created, t.lastIncrease, t.lastDecrease, t.autoInc = f[5], f[6], f[7], f[8]
	return t, nil
}

// ---------------------------------------------------------------------------------------------
// Recovery.

func (s *Server) walDir() string { return filepath.Join(s.opts.DataDir, "wal") }

func snapshotName(seq uint64) string { return fmt.Sprintf("snapshot-%016x.snap", seq) }

// snapshots lists snapshot files, newest first.
func (s *Server) snapshots() ([]uint64, error) {
	ents, err := os.ReadDir(s.opts.DataDir)
	if err != nil {
		return nil, err
	}
	var seqs []uint64
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(s.opts.DataDir, name)) // an interrupted snapshot
			continue
		}
		if !strings.HasPrefix(name, "snapshot-") || !strings.HasSuffix(name, ".snap") {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, "snapshot-"), ".snap"), 16, 64)
		if err == nil {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	slices.Reverse(seqs)
	return seqs, nil
}

// recover loads the newest snapshot and replays the log after it.
func (s *Server) recover() error {
	if err := os.MkdirAll(s.opts.DataDir, 0o755); err != nil {
		return fmt.Errorf("otsemu: data directory: %w", err)
	}
	if err := s.lockDir(); err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			s.unlockDir()
		}
	}()
	seqs, err := s.snapshots()
	if err != nil {
		return fmt.Errorf("otsemu: data directory: %w", err)
	}
	if len(seqs) > 0 {
		// Only the newest snapshot is complete by construction (it is renamed into place
		// after an fsync); a checksum failure means the disk corrupted it.
		if err := s.loadSnapshot(seqs[0]); err != nil {
			return fmt.Errorf("otsemu: %w", err)
		}
		s.snapshotSeq = seqs[0]
	}
	l, err := wal.Open(s.walDir(), wal.Options{NoSync: s.opts.NoSync}, s.snapshotSeq, func(_ uint64, rec []byte) error {
		return s.replay(rec)
	})
	if err != nil {
		return fmt.Errorf("otsemu: %w", err)
	}
	s.wal = l
	for _, t := range s.tables {
		t.lastSeq = 0
	}
	ok = true
	s.log.Info("otsemu: recovered", "dir", s.opts.DataDir, "tables", len(s.tables), "snapshot_seq", s.snapshotSeq, "log_seq", l.LastSeq())
	return nil
}

func (s *Server) loadSnapshot(seq uint64) error {
	path := filepath.Join(s.opts.DataDir, snapshotName(seq))
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(b) < len(snapshotMagic)+4 || !bytes.Equal(b[:len(snapshotMagic)], snapshotMagic) {
		return fmt.Errorf("%s is not a snapshot", path)
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return fmt.Errorf("%s: checksum mismatch", path)
	}
	d := &decoder{b: body[len(snapshotMagic):]}
	if got := d.uvarint("sequence"); got != seq && d.err == nil {
		return fmt.Errorf("%s holds sequence %d", path, got)
	}
	nt := d.count("tables")
	for range nt {
		def := &decoder{b: d.bytes("table")}
		if d.err != nil {
			break
		}
		t, err := def.tableDef()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		nr := d.uvarint("rows")
		for range nr {
			rd := &decoder{b: d.bytes("row")}
			if d.err != nil {
				break
			}
			r := rd.row()
			if rd.err != nil {
				return fmt.Errorf("%s: table %s: %w", path, t.name, rd.err)
			}
			t.rows.Set(r.key, r)
		}
		s.tables[t.name] = t
	}
	if d.err != nil {
		return fmt.Errorf("%s: %w", path, d.err)
	}
	return nil
}

// replay applies one log record to the in-memory state.
func (s *Server) replay(rec []byte) error {
	d := &decoder{b: rec}
	kind := d.byte1("record kind")
	switch kind {
	case recCreateTable, recUpdateTable:
		t, err := d.tableDef()
		if err != nil {
			return err
		}
		if old := s.tables[t.name]; old != nil {
			if kind == recCreateTable {
				return fmt.Errorf("table %s created twice", t.name)
			}
			old.opt, old.readCU, old.writeCU = t.opt, t.readCU, t.writeCU
			old.lastIncrease, old.lastDecrease = t.lastIncrease, t.lastDecrease
			old.autoInc = max(old.autoInc, t.autoInc)
			return nil
		}
		if kind == recUpdateTable {
			return fmt.Errorf("update of unknown table %s", t.name)
		}
		s.tables[t.name] = t
	case recDeleteTable:
		delete(s.tables, string(d.bytes("table name")))
	case recPutRow, recDeleteRow:
		name := string(d.bytes("table name"))
		t := s.tables[name]
		if t == nil {
			return fmt.Errorf("row of unknown table %s", name)
		}
		if kind == recPutRow {
			r := d.row()
			if d.err != nil {
				return d.err
			}
			t.rows.Set(r.key, r)
			for i, c := range t.schema {
				if c.autoInc && i < len(r.pk) {
					t.autoInc = max(t.autoInc, r.pk[i].Int)
				}
			}
		} else {
			pk := d.pk()
			if d.err != nil {
				return d.err
			}
			t.rows.Delete(appendKey(nil, pk))
		}
	default:
		return fmt.Errorf("unknown record kind %d", kind)
	}
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return errors.New("trailing bytes in record")
	}
	return nil
}

// ---------------------------------------------------------------------------------------------
// Snapshots.

type capturedTable struct {
	def  []byte
	rows []*row
}

// snapshot writes the whole state as of the newest log record and drops the log before it.
func (s *Server) snapshot() error {
	if s.wal == nil {
		return nil
	}
	s.snapshotMu.Lock()
	defer s.snapshotMu.Unlock()

	s.writeMu.Lock()
	upTo, err := s.wal.Rotate()
	if err != nil {
		s.writeMu.Unlock()
		return err
	}
	written := s.wal.Written()
	if upTo == s.snapshotSeq {
		s.writeMu.Unlock()
		s.snapshotBytes = written
		return nil
	}
	s.catalogMu.RLock()
	names := make([]string, 0, len(s.tables))
	for n := range s.tables {
		names = append(names, n)
	}
	slices.Sort(names)
	captured := make([]capturedTable, 0, len(names))
	for _, n := range names {
		t := s.tables[n]
		t.mu.RLock()
		c := capturedTable{def: appendTableDef(nil, t), rows: make([]*row, 0, t.rows.Len())}
		t.rows.Ascend(nil, func(_ []byte, r *row) bool { c.rows = append(c.rows, r); return true })
		t.mu.RUnlock()
		captured = append(captured, c)
	}
	s.catalogMu.RUnlock()
	s.writeMu.Unlock()

	if err := s.writeSnapshot(upTo, captured); err != nil {
		return err
	}
	seqs, _ := s.snapshots()
	for _, old := range seqs {
		if old != upTo {
			os.Remove(filepath.Join(s.opts.DataDir, snapshotName(old)))
		}
	}
	if err := s.wal.Discard(upTo); err != nil {
		return err
	}
	s.snapshotSeq, s.snapshotBytes = upTo, written
	s.log.Info("otsemu: snapshot written", "seq", upTo, "tables", len(captured))
	return nil
}

func (s *Server) writeSnapshot(seq uint64, tables []capturedTable) error {
	final := filepath.Join(s.opts.DataDir, snapshotName(seq))
	tmp := final + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("otsemu: snapshot: %w", err)
	}
	defer os.Remove(tmp)
	crc := crc32.New(castagnoli)
	w := bufio.NewWriterSize(io.MultiWriter(f, crc), 1<<20)
	var buf []byte
	put := func(b []byte) { w.Write(b) }
	put(snapshotMagic)
	put(appendUvarint(nil, seq))
	put(appendUvarint(nil, uint64(len(tables))))
	for _, t := range tables {
		put(appendBytes(nil, t.def))
		put(appendUvarint(nil, uint64(len(t.rows))))
		for _, r := range t.rows {
			buf = appendRow(buf[:0], r)
			put(appendUvarint(nil, uint64(len(buf))))
			put(buf)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("otsemu: snapshot: %w", err)
	}
	if _, err := f.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32())); err != nil {
		f.Close()
		return fmt.Errorf("otsemu: snapshot: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("otsemu: snapshot: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("otsemu: snapshot: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("otsemu: snapshot: %w", err)
	}
	d, err := os.Open(s.opts.DataDir)
	if err != nil {
		return fmt.Errorf("otsemu: snapshot: %w", err)
	}
	defer d.Close()
	return d.Sync()
}

// ---------------------------------------------------------------------------------------------
// Purging.

// PurgeExpired removes versions and rows that TTL or max_versions hide, as of the server's
// clock, and returns how many rows it rewrote or removed. It runs in the background every
// PurgeInterval; a local cloud that moves the clock may call it to reclaim space at once.
// Reads never depend on it: they hide expired data themselves.
func (s *Server) PurgeExpired() int {
	s.catalogMu.RLock()
	tables := make([]*table, 0, len(s.tables))
	for _, t := range s.tables {
		tables = append(tables, t)
	}
	s.catalogMu.RUnlock()
	changed := 0
	for _, t := range tables {
		var keys [][]byte
		t.mu.RLock()
		rt := t.retention(s.nowMs())
		t.rows.Ascend(nil, func(k []byte, r *row) bool {
			if rt.purgeable(r) {
				keys = append(keys, k)
			}
			return true
		})
		t.mu.RUnlock()
		for len(keys) > 0 {
			n := min(len(keys), 256)
			changed += s.purgeKeys(t, keys[:n])
			keys = keys[n:]
		}
	}
	return changed
}

func (s *Server) purgeKeys(t *table, keys [][]byte) int {
	s.writeMu.RLock()
	defer s.writeMu.RUnlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dropped {
		return 0
	}
	rt := t.retention(s.nowMs())
	n := 0
	for _, k := range keys {
		r, ok := t.rows.Get(k)
		if !ok || !rt.purgeable(r) {
			continue
		}
		p := rt.purged(r)
		rec := encodeKeyRecord(recDeleteRow, t.name, r.pk)
		if p != nil {
			rec = encodeRowRecord(recPutRow, t.name, p)
		}
		seq, e := s.logRecord(rec)
		if e != nil {
			return n
		}
		if p != nil {
			t.rows.Set(k, p)
		} else {
			t.rows.Delete(k)
		}
		if seq != 0 {
			t.lastSeq = seq
		}
		n++
	}
	return n
}
