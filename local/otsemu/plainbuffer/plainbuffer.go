// Package plainbuffer owns Tablestore's PlainBuffer row format: the byte layout in which rows,
// primary keys and row changes travel inside the protobuf messages of the Tablestore API.
//
// The encoder writes exactly the bytes the official SDKs write (tag order, lengths, CRC-8
// checksums), so what the emulator sends is what any SDK expects. The decoder is strict: it
// verifies every cell and row checksum, every length and every tag, and never panics on
// malformed input; the SDKs' own readers skip checksums, so the server is where corruption
// must be caught.
package plainbuffer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Header is the little-endian int32 that opens every PlainBuffer.
const Header = 0x75

// Tags that structure a PlainBuffer.
const (
	tagRowPK          = 0x1
	tagRowData        = 0x2
	tagCell           = 0x3
	tagCellName       = 0x4
	tagCellValue      = 0x5
	tagCellType       = 0x6
	tagCellTimestamp  = 0x7
	tagDeleteMarker   = 0x8
	tagRowChecksum    = 0x9
	tagCellChecksum   = 0xA
	tagRowExtension   = 0xB
	tagSeqInfo        = 0xC
	tagSeqInfoEpoch   = 0xD
	tagSeqInfoTS      = 0xE
	tagSeqInfoRowIndx = 0xF
)

// Type is the variant type byte of a cell value.
type Type byte

// Value types as they appear on the wire.
const (
	TypeInteger       Type = 0x0
	TypeDouble        Type = 0x1
	TypeBoolean       Type = 0x2
	TypeString        Type = 0x3
	TypeBlob          Type = 0x7
	TypeInfMin        Type = 0x9
	TypeInfMax        Type = 0xA
	TypeAutoIncrement Type = 0xB
)

// String names the type the way Tablestore's error messages do (VT_INTEGER, ...).
func (t Type) String() string {
	switch t {
	case TypeInteger:
		return "VT_INTEGER"
	case TypeDouble:
		return "VT_DOUBLE"
	case TypeBoolean:
		return "VT_BOOLEAN"
	case TypeString:
		return "VT_STRING"
	case TypeBlob:
		return "VT_BLOB"
	case TypeInfMin:
		return "VT_INF_MIN"
	case TypeInfMax:
		return "VT_INF_MAX"
	case TypeAutoIncrement:
		return "VT_AUTO_INCREMENT"
	}
	return fmt.Sprintf("VT_UNKNOWN(%d)", byte(t))
}

// Op is the operation a cell carries in an UpdateRow change.
type Op byte

// Cell operations. OpPut is the absence of a TAG_CELL_TYPE.
const (
	OpPut       Op = 0x0
	OpDeleteAll Op = 0x1
	OpDeleteOne Op = 0x3
	OpIncrement Op = 0x4
)

// Value is one typed cell value. Only the field matching Type is meaningful.
type Value struct {
	Type  Type
	Int   int64
	Float float64
	Bool  bool
	Bytes []byte // STRING (UTF-8) and BLOB
}

// Integer, Double, Boolean, String, Blob, InfMin, InfMax and AutoIncrement build values.
func Integer(v int64) Value   { return Value{Type: TypeInteger, Int: v} }
func Double(v float64) Value  { return Value{Type: TypeDouble, Float: v} }
func Boolean(v bool) Value    { return Value{Type: TypeBoolean, Bool: v} }
func String(v string) Value   { return Value{Type: TypeString, Bytes: []byte(v)} }
func Blob(v []byte) Value     { return Value{Type: TypeBlob, Bytes: v} }
func InfMin() Value           { return Value{Type: TypeInfMin} }
func InfMax() Value           { return Value{Type: TypeInfMax} }
func AutoIncrement() Value    { return Value{Type: TypeAutoIncrement} }
func (v Value) IsInf() bool   { return v.Type == TypeInfMin || v.Type == TypeInfMax }
func (v Value) IsBytes() bool { return v.Type == TypeString || v.Type == TypeBlob }

// Size is the value's data size as Tablestore bills it: 8 for numbers, 1 for booleans, the
// length for strings and blobs.
func (v Value) Size() int {
	switch v.Type {
	case TypeInteger, TypeDouble:
		return 8
	case TypeBoolean:
		return 1
	case TypeString, TypeBlob:
		return len(v.Bytes)
	}
	return 0
}

// Equal reports whether two values have the same type and the same content.
func (v Value) Equal(o Value) bool {
	if v.Type != o.Type {
		return false
	}
	switch v.Type {
	case TypeInteger:
		return v.Int == o.Int
	case TypeDouble:
		return math.Float64bits(v.Float) == math.Float64bits(o.Float)
	case TypeBoolean:
		return v.Bool == o.Bool
	case TypeString, TypeBlob:
		return string(v.Bytes) == string(o.Bytes)
	}
	return true
}

// Cell is one cell of a row: a primary-key column or an attribute column (version).
type Cell struct {
	Name         string
	Value        Value
	HasValue     bool // false for delete operations, which carry no value
	Op           Op
	HasOp        bool
	Timestamp    int64
	HasTimestamp bool
}

// Row is one PlainBuffer row.
type Row struct {
	PrimaryKey   []Cell
	Cells        []Cell
	DeleteMarker bool
}

// ---------------------------------------------------------------------------------------------
// CRC-8 (polynomial 0x07), as the SDKs compute it.

var crcTable = func() (t [256]byte) {
	for i := range t {
		x := byte(i)
		for range 8 {
			if x&0x80 != 0 {
				x = x<<1 ^ 0x07
			} else {
				x <<= 1
			}
		}
		t[i] = x
	}
	return t
}()

func crcByte(c, b byte) byte { return crcTable[c^b] }

func crcBytes(c byte, bs []byte) byte {
	for _, b := range bs {
		c = crcTable[c^b]
	}
	return c
}

func crcUint32(c byte, v uint32) byte {
	for range 4 {
		c = crcTable[c^byte(v)]
		v >>= 8
	}
	return c
}

func crcUint64(c byte, v uint64) byte {
	for range 8 {
		c = crcTable[c^byte(v)]
		v >>= 8
	}
	return c
}

// CRC8 is the checksum over b, exported for tests that corrupt buffers on purpose.
func CRC8(b []byte) byte { return crcBytes(0, b) }

// ---------------------------------------------------------------------------------------------
// Encoding.

// valueChecksum folds a value into a running cell checksum exactly as the SDKs do: the type
// byte, then the payload (with the int32 length prefix for strings and blobs).
func valueChecksum(c byte, v Value) byte {
	c = crcByte(c, byte(v.Type))
	switch v.Type {
	case TypeInteger:
		c = crcUint64(c, uint64(v.Int))
	case TypeDouble:
		c = crcUint64(c, math.Float64bits(v.Float))
	case TypeBoolean:
		if v.Bool {
			c = crcByte(c, 1)
		} else {
			c = crcByte(c, 0)
		}
	case TypeString, TypeBlob:
		c = crcUint32(c, uint32(len(v.Bytes)))
		c = crcBytes(c, v.Bytes)
	}
	return c
}

// payloadLen is the length written after TAG_CELL_VALUE: type byte plus data.
func payloadLen(v Value) int {
	switch v.Type {
	case TypeInteger, TypeDouble:
		return 9
	case TypeBoolean:
		return 2
	case TypeString, TypeBlob:
		return 5 + len(v.Bytes)
	}
	return 1
}

// AppendValue appends the serialized value without the length prefix: type byte and data. It
// is the form filters carry in SingleColumnValueFilter.column_value.
func AppendValue(b []byte, v Value) []byte {
	b = append(b, byte(v.Type))
	switch v.Type {
	case TypeInteger:
		b = binary.LittleEndian.AppendUint64(b, uint64(v.Int))
	case TypeDouble:
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Float))
	case TypeBoolean:
		if v.Bool {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	case TypeString, TypeBlob:
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v.Bytes)))
		b = append(b, v.Bytes...)
	}
	return b
}

// appendCell writes one cell and returns its checksum.
func appendCell(b []byte, c *Cell) ([]byte, byte) {
	b = append(b, tagCell, tagCellName)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(c.Name)))
	b = append(b, c.Name...)
	sum := crcBytes(0, []byte(c.Name))
	if c.HasValue {
		b = append(b, tagCellValue)
		b = binary.LittleEndian.AppendUint32(b, uint32(payloadLen(c.Value)))
		b = AppendValue(b, c.Value)
		sum = valueChecksum(sum, c.Value)
	}
	if c.HasOp {
		b = append(b, tagCellType, byte(c.Op))
	}
	if c.HasTimestamp {
		b = append(b, tagCellTimestamp)
		b = binary.LittleEndian.AppendUint64(b, uint64(c.Timestamp))
		sum = crcUint64(sum, uint64(c.Timestamp))
	}
	// The SDKs write the op before the timestamp but checksum it after.
	if c.HasOp {
		sum = crcByte(sum, byte(c.Op))
	}
	return append(b, tagCellChecksum, sum), sum
}

// AppendRow appends one row (without the header) to b.
func AppendRow(b []byte, r *Row) []byte {
	var sum, cs byte
	b = append(b, tagRowPK)
	for i := range r.PrimaryKey {
		b, cs = appendCell(b, &r.PrimaryKey[i])
		sum = crcByte(sum, cs)
	}
	if len(r.Cells) > 0 {
		b = append(b, tagRowData)
		for i := range r.Cells {
			b, cs = appendCell(b, &r.Cells[i])
			sum = crcByte(sum, cs)
		}
	}
	if r.DeleteMarker {
		b = append(b, tagDeleteMarker)
		sum = crcByte(sum, 1)
	} else {
		sum = crcByte(sum, 0)
	}
	return append(b, tagRowChecksum, sum)
}

// AppendHeader appends the PlainBuffer header.
func AppendHeader(b []byte) []byte { return binary.LittleEndian.AppendUint32(b, Header) }

// Encode returns a complete PlainBuffer holding rows.
func Encode(rows ...Row) []byte {
	n := 4
	for i := range rows {
		n += rows[i].encodedSizeHint()
	}
	b := AppendHeader(make([]byte, 0, n))
	for i := range rows {
		b = AppendRow(b, &rows[i])
	}
	return b
}

func (r *Row) encodedSizeHint() int {
	n := 3
	for i := range r.PrimaryKey {
		n += 20 + len(r.PrimaryKey[i].Name) + payloadLen(r.PrimaryKey[i].Value)
	}
	for i := range r.Cells {
		n += 30 + len(r.Cells[i].Name) + payloadLen(r.Cells[i].Value)
	}
	return n
}

// ---------------------------------------------------------------------------------------------
// Decoding.

// Error is a decoding failure: what was wrong and at which byte offset.
type Error struct {
	Offset   int
	Reason   string
	Checksum bool // a CRC-8 did not match; errors.Is(err, ErrChecksum) reports it
}

func (e *Error) Error() string {
	return fmt.Sprintf("plainbuffer: %s at offset %d", e.Reason, e.Offset)
}

// ErrChecksum is wrapped by errors caused by a checksum mismatch.
var ErrChecksum = errors.New("checksum mismatch")

func (e *Error) Unwrap() error {
	if e.Checksum {
		return ErrChecksum
	}
	return nil
}

type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(reason string) {
	if d.err == nil {
		d.err = &Error{Offset: d.off, Reason: reason}
	}
}

func (d *decoder) remaining() int { return len(d.b) - d.off }

func (d *decoder) peek() (byte, bool) {
	if d.err != nil || d.off >= len(d.b) {
		return 0, false
	}
	return d.b[d.off], true
}

// accept consumes tag t if it comes next.
func (d *decoder) accept(t byte) bool {
	if c, ok := d.peek(); ok && c == t {
		d.off++
		return true
	}
	return false
}

func (d *decoder) byte1(what string) byte {
	if d.err != nil {
		return 0
	}
	if d.remaining() < 1 {
		d.fail("unexpected end reading " + what)
		return 0
	}
	d.off++
	return d.b[d.off-1]
}

func (d *decoder) uint32(what string) uint32 {
	if d.err != nil {
		return 0
	}
	if d.remaining() < 4 {
		d.fail("unexpected end reading " + what)
		return 0
	}
	d.off += 4
	return binary.LittleEndian.Uint32(d.b[d.off-4:])
}

func (d *decoder) uint64(what string) uint64 {
	if d.err != nil {
		return 0
	}
	if d.remaining() < 8 {
		d.fail("unexpected end reading " + what)
		return 0
	}
	d.off += 8
	return binary.LittleEndian.Uint64(d.b[d.off-8:])
}

// length reads an int32 length and checks it fits in what is left.
func (d *decoder) length(what string) int {
	n := d.uint32(what + " length")
	if d.err != nil {
		return 0
	}
	if int64(n) > int64(d.remaining()) {
		d.fail(fmt.Sprintf("%s length %d exceeds the %d bytes left", what, int32(n), d.remaining()))
		return 0
	}
	return int(n)
}

func (d *decoder) bytesN(n int) []byte {
	if d.err != nil {
		return nil
	}
	out := make([]byte, n)
	copy(out, d.b[d.off:d.off+n])
	d.off += n
	return out
}

// Decode parses a complete PlainBuffer (header and one or more rows), verifying checksums.
// The returned rows own their memory (nothing aliases b).
func Decode(b []byte) ([]Row, error) {
	d := &decoder{b: b}
	if d.uint32("header") != Header && d.err == nil {
		d.off = 0
		d.fail("bad header")
	}
	if d.err != nil {
		return nil, d.err
	}
	if d.remaining() == 0 {
		d.fail("no row after the header")
		return nil, d.err
	}
	var rows []Row
	for d.err == nil && d.remaining() > 0 {
		r := d.row()
		if d.err != nil {
			break
		}
		rows = append(rows, r)
	}
	if d.err != nil {
		return nil, d.err
	}
	return rows, nil
}

// DecodeRow parses a PlainBuffer that must hold exactly one row.
func DecodeRow(b []byte) (Row, error) {
	rows, err := Decode(b)
	if err != nil {
		return Row{}, err
	}
	if len(rows) != 1 {
		return Row{}, &Error{Offset: len(b), Reason: fmt.Sprintf("want exactly one row, found %d", len(rows))}
	}
	return rows[0], nil
}

func (d *decoder) row() Row {
	var r Row
	var sum byte
	start := d.off
	if d.accept(tagRowPK) {
		r.PrimaryKey = d.cells(&sum)
	}
	if d.accept(tagRowData) {
		r.Cells = d.cells(&sum)
	}
	if d.accept(tagDeleteMarker) {
		r.DeleteMarker = true
		sum = crcByte(sum, 1)
	} else {
		sum = crcByte(sum, 0)
	}
	if d.accept(tagRowExtension) {
		d.extension()
	}
	if d.err != nil {
		return r
	}
	if !d.accept(tagRowChecksum) {
		if d.off == start {
			d.fail("expected a row")
		} else {
			d.fail("expected row checksum")
		}
		return r
	}
	got := d.byte1("row checksum")
	if d.err == nil && got != sum {
		d.err = &Error{Offset: d.off - 1, Checksum: true, Reason: fmt.Sprintf("row checksum 0x%02x, computed 0x%02x", got, sum)}
	}
	return r
}

// extension skips the stream-record extension (TAG_EXTENSION), checking its structure.
func (d *decoder) extension() {
	n := d.length("extension")
	end := d.off + n
	if d.err != nil {
		return
	}
	if !d.accept(tagSeqInfo) {
		d.fail("expected sequence info in extension")
		return
	}
	d.uint32("sequence info length")
	for _, t := range []struct {
		tag  byte
		size int
	}{{tagSeqInfoEpoch, 4}, {tagSeqInfoTS, 8}, {tagSeqInfoRowIndx, 4}} {
		if !d.accept(t.tag) {
			d.fail("bad sequence info tag")
			return
		}
		if d.remaining() < t.size {
			d.fail("unexpected end in sequence info")
			return
		}
		d.off += t.size
	}
	if d.off != end {
		d.fail("extension length mismatch")
	}
}

func (d *decoder) cells(rowSum *byte) []Cell {
	var cs []Cell
	for d.accept(tagCell) {
		c, sum := d.cell()
		if d.err != nil {
			return nil
		}
		*rowSum = crcByte(*rowSum, sum)
		cs = append(cs, c)
	}
	return cs
}

func (d *decoder) cell() (Cell, byte) {
	var c Cell
	if !d.accept(tagCellName) {
		d.fail("expected cell name")
		return c, 0
	}
	n := d.length("cell name")
	name := d.bytesN(n)
	c.Name = string(name)
	sum := crcBytes(0, name)
	if d.accept(tagCellValue) {
		c.Value = d.value()
		c.HasValue = true
		sum = valueChecksum(sum, c.Value)
	}
	if d.accept(tagCellType) {
		c.Op = Op(d.byte1("cell type"))
		c.HasOp = true
		switch c.Op {
		case OpDeleteAll, OpDeleteOne, OpIncrement:
		default:
			d.fail(fmt.Sprintf("unknown cell operation 0x%02x", byte(c.Op)))
		}
	}
	if d.accept(tagCellTimestamp) {
		c.Timestamp = int64(d.uint64("cell timestamp"))
		c.HasTimestamp = true
		sum = crcUint64(sum, uint64(c.Timestamp))
	}
	if c.HasOp {
		sum = crcByte(sum, byte(c.Op))
	}
	if d.err != nil {
		return c, 0
	}
	if !d.accept(tagCellChecksum) {
		d.fail("expected cell checksum")
		return c, 0
	}
	got := d.byte1("cell checksum")
	if d.err == nil && got != sum {
		d.err = &Error{Offset: d.off - 1, Checksum: true, Reason: fmt.Sprintf("cell %q checksum 0x%02x, computed 0x%02x", c.Name, got, sum)}
	}
	return c, sum
}

func (d *decoder) value() Value {
	n := d.length("cell value")
	if d.err != nil {
		return Value{}
	}
	end := d.off + n
	v, consumed := d.valueBody(n)
	if d.err == nil && consumed != n {
		d.fail(fmt.Sprintf("cell value length %d but %s takes %d bytes", n, v.Type, consumed))
	}
	if d.err == nil {
		d.off = end
	}
	return v
}

// valueBody decodes type byte and data within n bytes; it returns how many it used.
func (d *decoder) valueBody(n int) (Value, int) {
	start := d.off
	if n < 1 {
		d.fail("empty cell value")
		return Value{}, 0
	}
	v := Value{Type: Type(d.byte1("value type"))}
	switch v.Type {
	case TypeInteger:
		v.Int = int64(d.uint64("integer"))
	case TypeDouble:
		v.Float = math.Float64frombits(d.uint64("double"))
	case TypeBoolean:
		v.Bool = d.byte1("boolean") != 0
	case TypeString, TypeBlob:
		l := d.length("string")
		v.Bytes = d.bytesN(l)
	case TypeInfMin, TypeInfMax, TypeAutoIncrement:
	default:
		d.off--
		d.fail(fmt.Sprintf("unknown value type 0x%02x", byte(v.Type)))
	}
	return v, d.off - start
}

// DecodeValue parses a value serialized without length prefix (AppendValue's form), as filters
// carry it. The whole of b must be consumed.
func DecodeValue(b []byte) (Value, error) {
	d := &decoder{b: b}
	v, n := d.valueBody(len(b))
	if d.err == nil && n != len(b) {
		d.fail(fmt.Sprintf("%d trailing bytes after the value", len(b)-n))
	}
	if d.err != nil {
		return Value{}, d.err
	}
	return v, nil
}
