package otsemu

import (
	"encoding/binary"

	pb "github.com/aliyun/aliyun-tablestore-go-sdk/tablestore/otsprotocol"
	"github.com/golang/protobuf/proto"

	"vodfc.dev/local/otsemu/plainbuffer"
)

// rowWrite is one decoded row change (PutRow, UpdateRow, DeleteRow or a BatchWriteRow item)
// that passed every check that does not depend on the table.
type rowWrite struct {
	op           pb.OperationType
	row          plainbuffer.Row
	existence    pb.RowExistenceExpectation
	hasCondition bool // a row existence other than IGNORE, or a column condition
	condition    filter
	returnType   pb.ReturnType
	returnCols   []string
	size         int // billed data size
	hasPut       bool
}

// decodeWrite validates a row change on its own: PlainBuffer integrity, operation shapes,
// names, value sizes and timestamp range. Its errors fail a whole batch, as Tablestore's do.
func decodeWrite(op pb.OperationType, change []byte, cond *pb.Condition, ret *pb.ReturnContent) (*rowWrite, *apiError) {
	r, err := plainbuffer.DecodeRow(change)
	if err != nil {
		return nil, invalid("Invalid row change: %v.", err)
	}
	w := &rowWrite{op: op, row: r, existence: cond.GetRowExistence(), returnType: ret.GetReturnType(), returnCols: ret.GetReturnColumnNames()}
	if len(r.PrimaryKey) == 0 {
		return nil, invalid("The primary key is missing.")
	}
	for _, c := range r.PrimaryKey {
		if e := checkColumnName(c.Name); e != nil {
			return nil, e
		}
		if !c.HasValue || c.HasOp || c.HasTimestamp {
			return nil, invalid("Invalid primary key column '%s': a value without operation or timestamp is required.", c.Name)
		}
		switch c.Value.Type {
		case plainbuffer.TypeInteger:
		case plainbuffer.TypeString, plainbuffer.TypeBlob:
			if len(c.Value.Bytes) > maxPKValueLen {
				return nil, invalid("The length of primary key column: '%s' exceeds the MaxLength:%d with CurrentLength:%d.", c.Name, maxPKValueLen, len(c.Value.Bytes))
			}
		case plainbuffer.TypeAutoIncrement:
			if op != pb.OperationType_PUT {
				return nil, invalid("The auto-increment placeholder of primary key column '%s' is only allowed when putting a row.", c.Name)
			}
		default:
			return nil, invalid("%s is an invalid type for the primary key.", c.Value.Type)
		}
		w.size += len(c.Name) + c.Value.Size()
	}
	switch op {
	case pb.OperationType_PUT, pb.OperationType_UPDATE:
		if r.DeleteMarker {
			return nil, invalid("A delete marker is only allowed in a row deletion.")
		}
	case pb.OperationType_DELETE:
		if len(r.Cells) > 0 {
			return nil, invalid("A row deletion can not carry attribute columns.")
		}
	default:
		return nil, invalid("Invalid operation type: %d.", op)
	}
	if op == pb.OperationType_UPDATE && len(r.Cells) == 0 {
		return nil, invalid("Attribute column is missing.")
	}
	if len(r.Cells) > maxColumnsPerRequest {
		return nil, invalid("The number of attribute columns exceeds the limit, limit count: %d, column count: %d.", maxColumnsPerRequest, len(r.Cells))
	}
	increments := map[string]bool{}
	for _, c := range r.Cells {
		if e := checkColumnName(c.Name); e != nil {
			return nil, e
		}
		if c.HasTimestamp && (c.Timestamp < 0 || c.Timestamp >= maxTimestamp) {
			return nil, invalid("Timestamp must be in range [0, INT64_MAX/1000).")
		}
		cop := plainbuffer.OpPut
		if c.HasOp {
			cop = c.Op
		}
		switch cop {
		case plainbuffer.OpPut:
			if !c.HasValue {
				return nil, invalid("The value of attribute column '%s' is missing.", c.Name)
			}
			w.hasPut = true
		case plainbuffer.OpDeleteOne:
			if c.HasValue || !c.HasTimestamp {
				return nil, invalid("Deleting one version of column '%s' needs a timestamp and no value.", c.Name)
			}
		case plainbuffer.OpDeleteAll:
			if c.HasValue || c.HasTimestamp {
				return nil, invalid("Deleting all versions of column '%s' takes no value and no timestamp.", c.Name)
			}
		case plainbuffer.OpIncrement:
			if !c.HasValue || c.Value.Type != plainbuffer.TypeInteger {
				return nil, invalid("The increment of column '%s' must be an INTEGER.", c.Name)
			}
			if c.HasTimestamp {
				return nil, invalid("An atomic increment of column '%s' can not set a timestamp.", c.Name)
			}
			increments[c.Name] = true
			w.hasPut = true
		}
		if cop != plainbuffer.OpPut && op == pb.OperationType_PUT {
			return nil, invalid("PutRow can not carry operation %d on column '%s'.", cop, c.Name)
		}
		if c.HasValue {
			switch c.Value.Type {
			case plainbuffer.TypeInteger, plainbuffer.TypeDouble, plainbuffer.TypeBoolean:
			case plainbuffer.TypeString, plainbuffer.TypeBlob:
				if len(c.Value.Bytes) > maxAttrValueLen {
					return nil, invalid("The length of attribute column: '%s' exceeds the MaxLength:%d with CurrentLength:%d.", c.Name, maxAttrValueLen, len(c.Value.Bytes))
				}
			default:
				return nil, invalid("%s is an invalid type for the attribute column.", c.Value.Type)
			}
		}
		w.size += len(c.Name) + c.Value.Size()
	}
	if w.existence != pb.RowExistenceExpectation_IGNORE {
		w.hasCondition = true
	}
	if op == pb.OperationType_DELETE && w.existence == pb.RowExistenceExpectation_EXPECT_NOT_EXIST {
		return nil, invalid("Invalid condition: EXPECT_NOT_EXIST while deleting row.")
	}
	if b := cond.GetColumnCondition(); len(b) > 0 {
		f, _, e := parseFilter(b, true)
		if e != nil {
			return nil, e
		}
		w.condition, w.hasCondition = f, true
	}
	if len(w.returnCols) > 0 {
		if w.returnType != pb.ReturnType_RT_AFTER_MODIFY {
			return nil, invalid("Return column names can only be given with return type RT_AFTER_MODIFY.")
		}
		for _, name := range w.returnCols {
			if !increments[name] {
				return nil, invalid("The column '%s' to return is not an atomic increment column of the row change.", name)
			}
		}
	}
	return w, nil
}

// checkSize applies the 4 MB data limit of one write request.
func checkSize(action string, size int) *apiError {
	if size > maxWriteDataSize {
		return invalid("The total data size of %s request exceeds the limit, limit size: %d, data size: %d.", action, maxWriteDataSize, size)
	}
	return nil
}

// resolvePK checks the primary key against the table schema; its errors belong to the row.
func (t *table) resolvePK(cells []plainbuffer.Cell) ([]plainbuffer.Value, bool, *apiError) {
	if len(cells) != len(t.schema) {
		return nil, false, invalidPK("Validate PK size fail. Input: %d, Meta: %d.", len(cells), len(t.schema))
	}
	pk := make([]plainbuffer.Value, len(cells))
	auto := false
	for i, c := range cells {
		s := t.schema[i]
		if c.Name != s.name {
			return nil, false, invalidPK("Validate PK name fail. Input: %s, Meta: %s.", c.Name, s.name)
		}
		if c.Value.Type == plainbuffer.TypeAutoIncrement {
			if !s.autoInc {
				return nil, false, invalid("The primary key column '%s' is not an auto-increment column.", s.name)
			}
			auto = true
		} else if want := pkWireType(s.typ); c.Value.Type != want {
			return nil, false, invalidPK("Validate PK type fail. Input: %s, Meta: %s.", c.Value.Type, want)
		}
		pk[i] = c.Value
	}
	return pk, auto, nil
}

func pkWireType(t pb.PrimaryKeyType) plainbuffer.Type {
	switch t {
	case pb.PrimaryKeyType_INTEGER:
		return plainbuffer.TypeInteger
	case pb.PrimaryKeyType_STRING:
		return plainbuffer.TypeString
	default:
		return plainbuffer.TypeBlob
	}
}

// checkTimestamps enforces the table's allowed version range around now: within
// deviation_cell_version_in_sec, and not already expired by the TTL.
func (t *table) checkTimestamps(w *rowWrite, nowMs int64) *apiError {
	dev := t.opt.deviation * 1000
	lo, hi := nowMs-dev, nowMs+dev
	if t.opt.ttl > 0 {
		lo = max(lo, nowMs-int64(t.opt.ttl)*1000)
	}
	for _, c := range w.row.Cells {
		if c.HasTimestamp && (!c.HasOp || c.Op == plainbuffer.OpPut) && (c.Timestamp < lo || c.Timestamp >= hi) {
			return invalid("The timestamp %d of column '%s' is out of the table's version range [%d, %d).", c.Timestamp, c.Name, lo, hi)
		}
	}
	return nil
}

// writeResult is what one applied row change returns.
type writeResult struct {
	row      []byte // PlainBuffer for return content, nil when none was asked for
	consumed *pb.ConsumedCapacity
	seq      uint64
}

func consumed(read, write int32) *pb.ConsumedCapacity {
	return &pb.ConsumedCapacity{CapacityUnit: &pb.CapacityUnit{Read: proto.Int32(read), Write: proto.Int32(write)}}
}

// capacityUnits bills size bytes at 4 KB per unit, at least one.
func capacityUnits(size int) int32 { return int32(max(1, (size+4095)/4096)) }

// apply performs one row change atomically against t. Nothing changes when it fails.
func (s *Server) apply(t *table, w *rowWrite) (writeResult, *apiError) {
	s.writeMu.RLock()
	defer s.writeMu.RUnlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dropped {
		return writeResult{}, errNoTable
	}
	pk, auto, e := t.resolvePK(w.row.PrimaryKey)
	if e != nil {
		return writeResult{}, e
	}
	now := s.now()
	nowMs := now.UnixMilli()
	if e := t.checkTimestamps(w, nowMs); e != nil {
		return writeResult{}, e
	}
	rt := t.retention(nowMs)
	autoValue := int64(0)
	if auto {
		autoValue = max(t.autoInc+1, now.UnixMicro())
		for i, v := range pk {
			if v.Type == plainbuffer.TypeAutoIncrement {
				pk[i] = plainbuffer.Integer(autoValue)
			}
		}
	}
	key := appendKey(nil, pk)
	old, _ := t.rows.Get(key)
	exists := rt.exists(old)
	switch w.existence {
	case pb.RowExistenceExpectation_EXPECT_EXIST:
		if !exists {
			return writeResult{}, errCondition
		}
	case pb.RowExistenceExpectation_EXPECT_NOT_EXIST:
		if exists {
			return writeResult{}, errCondition
		}
	}
	if w.condition != nil && !w.condition.match(t.conditionView(pk, old, rt)) {
		return writeResult{}, errCondition
	}

	var next *row
	var incremented map[string]version
	switch w.op {
	case pb.OperationType_PUT:
		cs := newColumnSet(int(t.opt.maxVersions))
		for _, c := range w.row.Cells {
			cs.put(c.Name, version{ts: cellTS(c, nowMs), val: c.Value})
		}
		next = &row{key: key, pk: pk, marker: nowMs, cols: cs.columns()}
	case pb.OperationType_UPDATE:
		cs := newColumnSet(int(t.opt.maxVersions))
		if exists {
			cs.seed(old, rt)
		}
		for _, c := range w.row.Cells {
			switch {
			case !c.HasOp:
				cs.put(c.Name, version{ts: cellTS(c, nowMs), val: c.Value})
			case c.Op == plainbuffer.OpDeleteOne:
				cs.deleteOne(c.Name, c.Timestamp)
			case c.Op == plainbuffer.OpDeleteAll:
				cs.deleteAll(c.Name)
			case c.Op == plainbuffer.OpIncrement:
				base := int64(0)
				if cur, ok := cs.latest(c.Name); ok {
					if cur.val.Type != plainbuffer.TypeInteger {
						return writeResult{}, invalid("Only an INTEGER column can be incremented; column '%s' holds %s.", c.Name, cur.val.Type)
					}
					base = cur.val.Int
				}
				sum, ok := addInt(base, c.Value.Int)
				if !ok {
					return writeResult{}, invalid("Incrementing column '%s' by %d overflows INTEGER.", c.Name, c.Value.Int)
				}
				v := version{ts: nowMs, val: plainbuffer.Integer(sum)}
				cs.put(c.Name, v)
				if incremented == nil {
					incremented = map[string]version{}
				}
				incremented[c.Name] = v
			}
		}
		switch {
		case w.hasPut:
			next = &row{key: key, pk: pk, marker: nowMs, cols: cs.columns()}
		case exists:
			next = &row{key: key, pk: pk, marker: old.marker, cols: cs.columns()}
		}
	}

	// Log first: if the log refuses the record, the change is not applied either.
	var res writeResult
	var rec []byte
	switch {
	case next != nil:
		rec = encodeRowRecord(recPutRow, t.name, next)
	case old != nil:
		rec = encodeKeyRecord(recDeleteRow, t.name, pk)
	}
	if rec != nil {
		seq, e := s.logRecord(rec)
		if e != nil {
			return writeResult{}, e
		}
		t.lastSeq, res.seq = seq, seq
		if next != nil {
			t.rows.Set(key, next)
		} else {
			t.rows.Delete(key)
		}
	}
	if auto {
		t.autoInc = autoValue
	}

	var readCU int32
	if w.hasCondition {
		readCU = 1
	}
	res.consumed = consumed(readCU, capacityUnits(w.size))
	switch w.returnType {
	case pb.ReturnType_RT_PK:
		res.row = plainbuffer.Encode(plainbuffer.Row{PrimaryKey: t.pkCells(pk)})
	case pb.ReturnType_RT_AFTER_MODIFY:
		out := plainbuffer.Row{PrimaryKey: t.pkCells(pk)}
		for _, name := range w.returnCols {
			if v, ok := incremented[name]; ok {
				out.Cells = append(out.Cells, plainbuffer.Cell{Name: name, Value: v.val, HasValue: true, Timestamp: v.ts, HasTimestamp: true})
			}
		}
		res.row = plainbuffer.Encode(out)
	}
	return res, nil
}

func cellTS(c plainbuffer.Cell, nowMs int64) int64 {
	if c.HasTimestamp {
		return c.Timestamp
	}
	return nowMs
}

// singleWrite runs PutRow, UpdateRow and DeleteRow.
func (s *Server) singleWrite(action, tableName string, op pb.OperationType, change []byte, cond *pb.Condition, ret *pb.ReturnContent, txn *string) (writeResult, *apiError) {
	if txn != nil {
		return writeResult{}, errTransactions
	}
	t, e := s.lookupTable(tableName)
	if e != nil {
		return writeResult{}, e
	}
	w, e := decodeWrite(op, change, cond, ret)
	if e != nil {
		return writeResult{}, e
	}
	if e := t.checkAttributeNames(w); e != nil {
		return writeResult{}, e
	}
	if e := checkSize(action, w.size); e != nil {
		return writeResult{}, e
	}
	res, e := s.apply(t, w)
	if e != nil {
		return writeResult{}, e
	}
	if e := s.durable(res.seq); e != nil {
		return writeResult{}, e
	}
	return res, nil
}

func (s *Server) putRow(req *pb.PutRowRequest) (proto.Message, *apiError) {
	res, e := s.singleWrite("PutRow", req.GetTableName(), pb.OperationType_PUT, req.Row, req.Condition, req.ReturnContent, req.TransactionId)
	if e != nil {
		return nil, e
	}
	return &pb.PutRowResponse{Consumed: res.consumed, Row: res.row}, nil
}

func (s *Server) updateRow(req *pb.UpdateRowRequest) (proto.Message, *apiError) {
	res, e := s.singleWrite("UpdateRow", req.GetTableName(), pb.OperationType_UPDATE, req.RowChange, req.Condition, req.ReturnContent, req.TransactionId)
	if e != nil {
		return nil, e
	}
	return &pb.UpdateRowResponse{Consumed: res.consumed, Row: res.row}, nil
}

func (s *Server) deleteRow(req *pb.DeleteRowRequest) (proto.Message, *apiError) {
	res, e := s.singleWrite("DeleteRow", req.GetTableName(), pb.OperationType_DELETE, req.PrimaryKey, req.Condition, req.ReturnContent, req.TransactionId)
	if e != nil {
		return nil, e
	}
	return &pb.DeleteRowResponse{Consumed: res.consumed, Row: res.row}, nil
}

// batchWriteRow applies each row independently: one row's failure (condition, primary key,
// missing table) is reported in its slot and does not stop the others. Problems with the
// request itself fail it as a whole.
func (s *Server) batchWriteRow(req *pb.BatchWriteRowRequest) (proto.Message, *apiError) {
	if req.TransactionId != nil {
		return nil, errTransactions
	}
	total, size := 0, 0
	writes := make([][]*rowWrite, len(req.Tables))
	tables := make(map[string]bool, len(req.Tables))
	for i, tr := range req.Tables {
		if e := checkTableName(tr.GetTableName()); e != nil {
			return nil, e
		}
		// Tablestore refuses the whole batch when it names a table twice or writes one row
		// twice (the order of two changes to one row would be undefined).
		if tables[tr.GetTableName()] {
			return nil, invalid("The input parameter is invalid: table '%s' appears more than once in BatchWriteRow.", tr.GetTableName())
		}
		tables[tr.GetTableName()] = true
		if len(tr.Rows) == 0 {
			return nil, invalid("No operation is specified for table: '%s'.", tr.GetTableName())
		}
		total += len(tr.Rows)
		if total > maxBatchWriteRows {
			return nil, invalid("Rows count exceeds the upper limit: %d.", maxBatchWriteRows)
		}
		rows := make(map[string]bool, len(tr.Rows))
		t, _ := s.lookupTable(tr.GetTableName()) // a missing table fails its rows below
		for _, rr := range tr.Rows {
			w, e := decodeWrite(rr.GetType(), rr.RowChange, rr.Condition, rr.ReturnContent)
			if e != nil {
				return nil, e
			}
			if t != nil {
				if e := t.checkAttributeNames(w); e != nil {
					return nil, e
				}
			}
			if k, ok := batchRowKey(w.row.PrimaryKey); ok {
				if rows[k] {
					return nil, invalid("The input parameter is invalid: BatchWriteRow changes the same row of table '%s' more than once.", tr.GetTableName())
				}
				rows[k] = true
			}
			size += w.size
			writes[i] = append(writes[i], w)
		}
	}
	if total == 0 {
		return nil, invalid("No row is specified in BatchWriteRow.")
	}
	if size > maxWriteDataSize {
		return nil, invalid("The total data size of BatchWriteRow request exceeds the limit, limit size: %d, data size: %d.", maxWriteDataSize, size)
	}
	resp := &pb.BatchWriteRowResponse{}
	var lastSeq uint64
	for i, tr := range req.Tables {
		out := &pb.TableInBatchWriteRowResponse{TableName: proto.String(tr.GetTableName())}
		t, tableErr := s.lookupTable(tr.GetTableName())
		for _, w := range writes[i] {
			var res writeResult
			e := tableErr
			if e == nil {
				res, e = s.apply(t, w)
			}
			if e != nil {
				out.Rows = append(out.Rows, &pb.RowInBatchWriteRowResponse{
					IsOk:  proto.Bool(false),
					Error: &pb.Error{Code: proto.String(e.code), Message: proto.String(e.message)},
				})
				continue
			}
			lastSeq = max(lastSeq, res.seq)
			out.Rows = append(out.Rows, &pb.RowInBatchWriteRowResponse{IsOk: proto.Bool(true), Consumed: res.consumed, Row: res.row})
		}
		resp.Tables = append(resp.Tables, out)
	}
	if e := s.durable(lastSeq); e != nil {
		return nil, e
	}
	return resp, nil
}

// checkAttributeNames refuses an attribute column named like one of t's primary-key columns,
// as Tablestore does (for a batch, the whole request).
func (t *table) checkAttributeNames(w *rowWrite) *apiError {
	for _, c := range w.row.Cells {
		for _, k := range t.schema {
			if c.Name == k.name {
				return invalid("The input parameter is invalid: attribute column '%s' has the name of a primary key column.", c.Name)
			}
		}
	}
	return nil
}

// batchRowKey identifies the row a change addresses within one batch, by column names, types
// and values as sent. A key with an auto-increment placeholder names a new row each time, so
// it has no identity (ok false).
func batchRowKey(pk []plainbuffer.Cell) (string, bool) {
	var b []byte
	for _, c := range pk {
		if c.Value.Type == plainbuffer.TypeAutoIncrement {
			return "", false
		}
		b = binary.AppendUvarint(b, uint64(len(c.Name)))
		b = append(b, c.Name...)
		b = append(b, byte(c.Value.Type))
		b = appendKeyColumn(b, c.Value)
	}
	return string(b), true
}

// logRecord appends a change to the log (nothing in memory-only mode). Callers hold writeMu
// shared and the lock that orders the change.
func (s *Server) logRecord(rec []byte) (uint64, *apiError) {
	if s.wal == nil {
		return 0, nil
	}
	seq, err := s.wal.Append(rec)
	if err != nil {
		s.log.Error("otsemu: write-ahead log append failed", "err", err)
		return 0, errorf(CodeInternalServerError, "The write-ahead log failed: %v.", err)
	}
	return seq, nil
}

// durable waits until log record seq is on disk.
func (s *Server) durable(seq uint64) *apiError {
	if s.wal == nil || seq == 0 {
		return nil
	}
	if err := s.wal.Wait(seq); err != nil {
		s.log.Error("otsemu: write-ahead log sync failed", "err", err)
		return errorf(CodeInternalServerError, "The write-ahead log failed: %v.", err)
	}
	return nil
}
