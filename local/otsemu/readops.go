package otsemu

import (
	"bytes"
	"slices"

	pb "github.com/aliyun/aliyun-tablestore-go-sdk/tablestore/otsprotocol"
	"github.com/golang/protobuf/proto"

	"vodfc.dev/local/otsemu/plainbuffer"
)

// readCriteria are the read options GetRow, BatchGetRow (per table) and GetRange share.
type readCriteria struct {
	columns     []string
	timeRange   *pb.TimeRange
	maxVersions *int32
	filter      []byte
	start, end  *string
}

// parse validates the criteria; noVersion is the operation's message for a request that
// sets neither max_versions nor time_range.
func (c readCriteria) parse(noVersion string) (*readSpec, *apiError) {
	if len(c.columns) > maxColumnsPerRequest {
		return nil, invalid("The number of columns from the request exceeds the limit, limit count: %d, column count: %d.", maxColumnsPerRequest, len(c.columns))
	}
	rs := &readSpec{}
	for _, name := range c.columns {
		if e := checkColumnName(name); e != nil {
			return nil, e
		}
	}
	rs.columns = slices.Compact(slices.Sorted(slices.Values(c.columns)))
	if c.timeRange == nil && c.maxVersions == nil {
		return nil, invalid("%s", noVersion)
	}
	if c.maxVersions != nil {
		if *c.maxVersions <= 0 {
			return nil, invalid("The value of max_versions must be greater than 0.")
		}
		rs.maxVersions = int(*c.maxVersions)
	}
	if tr := c.timeRange; tr != nil {
		rs.hasTime = true
		switch {
		case tr.SpecificTime != nil:
			ts := tr.GetSpecificTime()
			if ts < 0 || ts >= maxTimestamp {
				return nil, invalid("The specific time must be in range [0, INT64_MAX/1000).")
			}
			rs.timeStart, rs.timeEnd = ts, ts+1
		case tr.StartTime != nil && tr.EndTime != nil:
			rs.timeStart, rs.timeEnd = tr.GetStartTime(), tr.GetEndTime()
			if rs.timeStart < 0 || rs.timeStart >= rs.timeEnd {
				return nil, invalid("Invalid time range: start time %d must be >= 0 and less than end time %d.", rs.timeStart, rs.timeEnd)
			}
		default:
			return nil, invalid("A time range needs a specific time or both a start and an end time.")
		}
	}
	if c.start != nil {
		rs.start, rs.hasStart = *c.start, true
	}
	if c.end != nil {
		rs.end, rs.hasEnd = *c.end, true
	}
	if len(c.filter) > 0 {
		f, page, e := parseFilter(c.filter, false)
		if e != nil {
			return nil, e
		}
		rs.filter, rs.page = f, page
	}
	return rs, nil
}

// bind completes a spec with what depends on the table's schema.
func (rs *readSpec) bind(t *table) *readSpec {
	b := *rs
	b.wantPK, b.wantAttrs = false, len(rs.columns) == 0
	for _, name := range rs.columns {
		if t.isPK(name) {
			b.wantPK = true
		} else {
			b.wantAttrs = true
		}
	}
	return &b
}

// decodeKeyCells decodes a primary key in a read request. Infinite values are only allowed
// as range bounds; the auto-increment placeholder never.
func decodeKeyCells(b []byte, allowInf bool) ([]plainbuffer.Cell, *apiError) {
	r, err := plainbuffer.DecodeRow(b)
	if err != nil {
		return nil, invalid("Invalid primary key: %v.", err)
	}
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
		case plainbuffer.TypeInfMin, plainbuffer.TypeInfMax:
			if !allowInf {
				return nil, invalid("%s is an invalid type for the primary key.", c.Value.Type)
			}
		default:
			return nil, invalid("%s is an invalid type for the primary key.", c.Value.Type)
		}
	}
	return r.PrimaryKey, nil
}

// resolveBound checks a range bound against the schema: every column, in order, of the right
// type or infinite.
func (t *table) resolveBound(cells []plainbuffer.Cell) ([]plainbuffer.Value, *apiError) {
	if len(cells) != len(t.schema) {
		return nil, invalidPK("Validate PK size fail. Input: %d, Meta: %d.", len(cells), len(t.schema))
	}
	out := make([]plainbuffer.Value, len(cells))
	for i, c := range cells {
		s := t.schema[i]
		if c.Name != s.name {
			return nil, invalidPK("Validate PK name fail. Input: %s, Meta: %s.", c.Name, s.name)
		}
		if want := pkWireType(s.typ); !c.Value.IsInf() && c.Value.Type != want {
			return nil, invalidPK("Validate PK type fail. Input: %s, Meta: %s.", c.Value.Type, want)
		}
		out[i] = c.Value
	}
	return out, nil
}

func (s *Server) getRow(req *pb.GetRowRequest) (proto.Message, *apiError) {
	if req.TransactionId != nil {
		return nil, errTransactions
	}
	t, e := s.lookupTable(req.GetTableName())
	if e != nil {
		return nil, e
	}
	rs, e := readCriteria{req.ColumnsToGet, req.TimeRange, req.MaxVersions, req.Filter, req.StartColumn, req.EndColumn}.parse("No version condition is specified.")
	if e != nil {
		return nil, e
	}
	cells, e := decodeKeyCells(req.PrimaryKey, false)
	if e != nil {
		return nil, e
	}
	pk, _, e := t.resolvePK(cells)
	if e != nil {
		return nil, e
	}
	key := appendKey(nil, pk)
	t.mu.RLock()
	r, _ := t.rows.Get(key)
	rt := t.retention(s.nowMs())
	seq := t.lastSeq
	t.mu.RUnlock()
	if e := s.durable(seq); e != nil {
		return nil, e
	}
	out, ok, size := t.project(r, rs.bind(t), rt)
	resp := &pb.GetRowResponse{Consumed: consumed(capacityUnits(size), 0), Row: []byte{}}
	if ok {
		resp.Row = plainbuffer.Encode(out)
	}
	return resp, nil
}

func (s *Server) batchGetRow(req *pb.BatchGetRowRequest) (proto.Message, *apiError) {
	total := 0
	specs := make([]*readSpec, len(req.Tables))
	keys := make([][][]plainbuffer.Cell, len(req.Tables))
	for i, tr := range req.Tables {
		if e := checkTableName(tr.GetTableName()); e != nil {
			return nil, e
		}
		total += len(tr.PrimaryKey)
		if total > maxBatchGetRows {
			return nil, invalid("Rows count exceeds the upper limit: %d.", maxBatchGetRows)
		}
		rs, e := readCriteria{tr.ColumnsToGet, tr.TimeRange, tr.MaxVersions, tr.Filter, tr.StartColumn, tr.EndColumn}.parse("No version condition is specified while querying row.")
		if e != nil {
			return nil, e
		}
		specs[i] = rs
		for _, b := range tr.PrimaryKey {
			cells, e := decodeKeyCells(b, false)
			if e != nil {
				return nil, e
			}
			keys[i] = append(keys[i], cells)
		}
	}
	if total == 0 {
		return nil, invalid("No row specified in the request of BatchGetRow.")
	}
	type slot struct {
		err *apiError
		pk  []plainbuffer.Value
		row *row
	}
	slots := make([][]slot, len(req.Tables))
	tables := make([]*table, len(req.Tables))
	rts := make([]retention, len(req.Tables))
	var lastSeq uint64
	for i, tr := range req.Tables {
		t, tableErr := s.lookupTable(tr.GetTableName())
		tables[i] = t
		slots[i] = make([]slot, len(keys[i]))
		if tableErr != nil {
			for j := range slots[i] {
				slots[i][j].err = tableErr
			}
			continue
		}
		t.mu.RLock()
		rts[i] = t.retention(s.nowMs())
		lastSeq = max(lastSeq, t.lastSeq)
		for j, cells := range keys[i] {
			pk, _, e := t.resolvePK(cells)
			if e != nil {
				slots[i][j].err = e
				continue
			}
			slots[i][j].pk = pk
			slots[i][j].row, _ = t.rows.Get(appendKey(nil, pk))
		}
		t.mu.RUnlock()
	}
	if e := s.durable(lastSeq); e != nil {
		return nil, e
	}
	resp := &pb.BatchGetRowResponse{}
	for i, tr := range req.Tables {
		out := &pb.TableInBatchGetRowResponse{TableName: proto.String(tr.GetTableName())}
		var rs *readSpec
		if tables[i] != nil {
			rs = specs[i].bind(tables[i])
		}
		for _, sl := range slots[i] {
			if sl.err != nil {
				out.Rows = append(out.Rows, &pb.RowInBatchGetRowResponse{
					IsOk:  proto.Bool(false),
					Error: &pb.Error{Code: proto.String(sl.err.code), Message: proto.String(sl.err.message)},
				})
				continue
			}
			pr, ok, size := tables[i].project(sl.row, rs, rts[i])
			item := &pb.RowInBatchGetRowResponse{IsOk: proto.Bool(true), Consumed: consumed(capacityUnits(size), 0), Row: []byte{}}
			if ok {
				item.Row = plainbuffer.Encode(pr)
			}
			out.Rows = append(out.Rows, item)
		}
		resp.Tables = append(resp.Tables, out)
	}
	return resp, nil
}

func (s *Server) getRange(req *pb.GetRangeRequest) (proto.Message, *apiError) {
	if req.TransactionId != nil {
		return nil, errTransactions
	}
	t, e := s.lookupTable(req.GetTableName())
	if e != nil {
		return nil, e
	}
	spec, e := readCriteria{req.ColumnsToGet, req.TimeRange, req.MaxVersions, req.Filter, req.StartColumn, req.EndColumn}.parse("No version condition is specified.")
	if e != nil {
		return nil, e
	}
	rs := spec.bind(t)
	limit := maxRangeRows
	if req.Limit != nil {
		if req.GetLimit() <= 0 {
			return nil, invalid("The limit must be greater than 0.")
		}
		limit = min(limit, int(req.GetLimit()))
	}
	var bounds [2][]plainbuffer.Value
	for i, b := range [][]byte{req.InclusiveStartPrimaryKey, req.ExclusiveEndPrimaryKey} {
		cells, e := decodeKeyCells(b, true)
		if e != nil {
			return nil, e
		}
		if bounds[i], e = t.resolveBound(cells); e != nil {
			return nil, e
		}
	}
	start, end := boundKey(bounds[0]), boundKey(bounds[1])
	forward := req.GetDirection() == pb.Direction_FORWARD
	c := bytes.Compare(start, end)
	if forward && c >= 0 {
		return nil, invalid("Begin key must less than end key in FORWARD")
	}
	if !forward && c <= 0 {
		return nil, invalid("Begin key must more than end key in BACKWARD")
	}

	var (
		rows    []plainbuffer.Row
		size    int
		scanned int
		next    *row
	)
	visit := func(k []byte, r *row, rt retention) bool {
		if c := bytes.Compare(k, end); (forward && c >= 0) || (!forward && c <= 0) {
			return false
		}
		// Tablestore stops a page at the row limit, 5000 rows or 4 MB, whichever comes first,
		// and hands back where to continue. Rows a filter drops count as scanned.
		if len(rows) >= limit || scanned >= maxRangeRows || size >= maxRangeBytes {
			next = r
			return false
		}
		scanned++
		if out, ok, n := t.project(r, rs, rt); ok {
			rows = append(rows, out)
			size += n
		}
		return true
	}
	t.mu.RLock()
	rt := t.retention(s.nowMs())
	seq := t.lastSeq
	if forward {
		t.rows.Ascend(start, func(k []byte, r *row) bool { return visit(k, r, rt) })
	} else {
		t.rows.Descend(start, func(k []byte, r *row) bool { return visit(k, r, rt) })
	}
	t.mu.RUnlock()
	if e := s.durable(seq); e != nil {
		return nil, e
	}
	resp := &pb.GetRangeResponse{Consumed: consumed(capacityUnits(size), 0), Rows: []byte{}}
	if len(rows) > 0 {
		resp.Rows = plainbuffer.Encode(rows...)
	}
	if next != nil {
		resp.NextStartPrimaryKey = plainbuffer.Encode(plainbuffer.Row{PrimaryKey: t.pkCells(next.pk)})
	}
	return resp, nil
}
