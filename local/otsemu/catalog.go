package otsemu

import (
	"regexp"
	"slices"
	"sync"

	pb "github.com/aliyun/aliyun-tablestore-go-sdk/tablestore/otsprotocol"
	"github.com/golang/protobuf/proto"

	"vodfc.dev/local/otsemu/btree"
)

// Documented Tablestore limits the emulator enforces.
const (
	maxTables            = 64
	maxNameLen           = 255
	maxPKColumns         = 4
	maxPKValueLen        = 1024
	maxAttrValueLen      = 2 << 20
	maxColumnsPerRequest = 1024
	maxWriteDataSize     = 4 << 20
	maxBatchGetRows      = 100
	maxBatchWriteRows    = 200
	maxRangeRows         = 5000
	maxRangeBytes        = 4 << 20
	maxCapacityUnits     = 100000
	defaultDeviationSec  = 86400
)

var tableNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func checkTableName(name string) *apiError {
	if len(name) == 0 || len(name) > maxNameLen || !tableNameRE.MatchString(name) {
		return invalid("Invalid table name: '%s'.", name)
	}
	return nil
}

// checkColumnName applies Tablestore's column naming rule: 1 to 255 bytes, and '#' is reserved
// as a first character.
func checkColumnName(name string) *apiError {
	if len(name) == 0 || len(name) > maxNameLen || name[0] == '#' {
		return invalid("Invalid column name: '%s'.", name)
	}
	return nil
}

type pkColumn struct {
	name    string
	typ     pb.PrimaryKeyType
	autoInc bool
}

// table is one emulated table. mu guards everything below it; rows are replaced, never
// modified, so a reader may keep a *row after unlocking.
type table struct {
	name   string
	schema []pkColumn
	meta   *pb.TableMeta // as created (schema and defined columns)

	mu           sync.RWMutex
	opt          tableOptions
	readCU       int32
	writeCU      int32
	created      int64 // unix seconds
	lastIncrease int64
	lastDecrease int64
	rows         btree.Tree[*row]
	autoInc      int64  // last auto-increment value handed out
	lastSeq      uint64 // log record of the newest change, for read-after-durable
	dropped      bool
}

// tableOptions are the options UpdateTable may change.
type tableOptions struct {
	ttl         int32 // seconds, -1 = forever
	maxVersions int32
	deviation   int64 // seconds a written timestamp may differ from now
}

func (t *table) retention(nowMs int64) retention {
	rt := retention{nowMs: nowMs, maxVersions: int(t.opt.maxVersions)}
	if t.opt.ttl > 0 {
		rt.ttlMs = int64(t.opt.ttl) * 1000
	}
	return rt
}

func (t *table) isPK(name string) bool {
	for _, c := range t.schema {
		if c.name == name {
			return true
		}
	}
	return false
}

// lookupTable returns the named table, checking the name first as Tablestore does.
func (s *Server) lookupTable(name string) (*table, *apiError) {
	if e := checkTableName(name); e != nil {
		return nil, e
	}
	s.catalogMu.RLock()
	t := s.tables[name]
	s.catalogMu.RUnlock()
	if t == nil {
		return nil, errNoTable
	}
	return t, nil
}

// validateCreate checks a CreateTable request and returns the table it describes.
func validateCreate(req *pb.CreateTableRequest) (*table, *apiError) {
	meta := req.GetTableMeta()
	name := meta.GetTableName()
	if e := checkTableName(name); e != nil {
		return nil, e
	}
	if n := len(meta.PrimaryKey); n < 1 || n > maxPKColumns {
		return nil, invalid("The number of primary key columns must be in range: [1, %d].", maxPKColumns)
	}
	t := &table{name: name}
	autoIncs := 0
	for i, c := range meta.PrimaryKey {
		if e := checkColumnName(c.GetName()); e != nil {
			return nil, e
		}
		if slices.ContainsFunc(t.schema, func(p pkColumn) bool { return p.name == c.GetName() }) {
			return nil, invalid("Duplicated primary key name: '%s'.", c.GetName())
		}
		typ := c.GetType()
		switch typ {
		case pb.PrimaryKeyType_INTEGER, pb.PrimaryKeyType_STRING, pb.PrimaryKeyType_BINARY:
		default:
			return nil, invalid("%d is an invalid type for the primary key.", typ)
		}
		col := pkColumn{name: c.GetName(), typ: typ}
		if c.Option != nil {
			if c.GetOption() != pb.PrimaryKeyOption_AUTO_INCREMENT {
				return nil, invalid("Invalid primary key option: %d.", c.GetOption())
			}
			if typ != pb.PrimaryKeyType_INTEGER {
				return nil, invalid("The auto-increment primary key column '%s' must be INTEGER.", col.name)
			}
			if i == 0 {
				return nil, invalid("The partition key '%s' can not be an auto-increment column.", col.name)
			}
			autoIncs++
			col.autoInc = true
		}
		t.schema = append(t.schema, col)
	}
	if autoIncs > 1 {
		return nil, invalid("A table can have at most one auto-increment primary key column.")
	}
	if len(meta.DefinedColumn) > 32 {
		return nil, invalid("The number of defined columns must be in range: [0, 32].")
	}
	for _, d := range meta.DefinedColumn {
		if e := checkColumnName(d.GetName()); e != nil {
			return nil, e
		}
		if t.isPK(d.GetName()) {
			return nil, invalid("Defined column '%s' duplicates a primary key column.", d.GetName())
		}
	}
	if len(req.IndexMetas) > 0 || len(meta.IndexMeta) > 0 {
		return nil, invalid("Secondary indexes are not supported by this emulator.")
	}
	if req.GetStreamSpec().GetEnableStream() {
		return nil, invalid("Streams are not supported by this emulator.")
	}
	opts := req.GetTableOptions()
	if opts == nil || opts.TimeToLive == nil || opts.MaxVersions == nil {
		return nil, invalid("The time_to_live and max_versions of table options are required.")
	}
	if e := t.opt.apply(opts); e != nil {
		return nil, e
	}
	if t.opt.deviation == 0 {
		t.opt.deviation = defaultDeviationSec
	}
	cu := req.GetReservedThroughput().GetCapacityUnit()
	if cu == nil || cu.Read == nil || cu.Write == nil {
		return nil, invalid("Both read and write capacity units of the reserved throughput are required.")
	}
	if e := checkCU(cu); e != nil {
		return nil, e
	}
	t.readCU, t.writeCU = cu.GetRead(), cu.GetWrite()
	t.meta = &pb.TableMeta{TableName: proto.String(name), DefinedColumn: meta.DefinedColumn}
	for _, c := range t.schema {
		s := &pb.PrimaryKeySchema{Name: proto.String(c.name), Type: c.typ.Enum()}
		if c.autoInc {
			s.Option = pb.PrimaryKeyOption_AUTO_INCREMENT.Enum()
		}
		t.meta.PrimaryKey = append(t.meta.PrimaryKey, s)
	}
	return t, nil
}

// apply validates and applies the options that are set.
func (t *tableOptions) apply(o *pb.TableOptions) *apiError {
	if o.TimeToLive != nil {
		if ttl := o.GetTimeToLive(); ttl != -1 && ttl <= 0 {
			return invalid("The value of timeToLive can be -1 or any positive value.")
		}
	}
	if o.MaxVersions != nil && o.GetMaxVersions() <= 0 {
		return invalid("The value of maxVersions must be greater than 0.")
	}
	if o.DeviationCellVersionInSec != nil && o.GetDeviationCellVersionInSec() <= 0 {
		return invalid("The value of deviationCellVersionInSec must be greater than 0.")
	}
	if o.TimeToLive != nil {
		t.ttl = o.GetTimeToLive()
	}
	if o.MaxVersions != nil {
		t.maxVersions = o.GetMaxVersions()
	}
	if o.DeviationCellVersionInSec != nil {
		t.deviation = o.GetDeviationCellVersionInSec()
	}
	return nil
}

func checkCU(cu *pb.CapacityUnit) *apiError {
	for _, v := range []*int32{cu.Read, cu.Write} {
		if v != nil && (*v < 0 || *v > maxCapacityUnits) {
			return invalid("The value of capacity unit must be in range: [0, %d].", maxCapacityUnits)
		}
	}
	return nil
}

func (s *Server) createTable(req *pb.CreateTableRequest) (proto.Message, *apiError) {
	t, e := validateCreate(req)
	if e != nil {
		return nil, e
	}
	t.created = s.now().Unix()
	t.lastIncrease = t.created
	s.writeMu.RLock()
	defer s.writeMu.RUnlock()
	s.catalogMu.Lock()
	if s.tables[t.name] != nil {
		s.catalogMu.Unlock()
		return nil, errTableExists
	}
	if len(s.tables) >= maxTables {
		s.catalogMu.Unlock()
		return nil, errorf(CodeQuotaExhausted, "Number of tables exceeds the quota:%d.", maxTables)
	}
	seq, err := s.logRecord(encodeTableRecord(recCreateTable, t))
	if err != nil {
		s.catalogMu.Unlock()
		return nil, err
	}
	t.lastSeq = seq
	s.tables[t.name] = t
	s.catalogMu.Unlock()
	if e := s.durable(seq); e != nil {
		return nil, e
	}
	return &pb.CreateTableResponse{}, nil
}

func (s *Server) listTable() (proto.Message, *apiError) {
	s.catalogMu.RLock()
	names := make([]string, 0, len(s.tables))
	for n := range s.tables {
		names = append(names, n)
	}
	s.catalogMu.RUnlock()
	slices.Sort(names)
	return &pb.ListTableResponse{TableNames: names}, nil
}

func (s *Server) deleteTable(req *pb.DeleteTableRequest) (proto.Message, *apiError) {
	name := req.GetTableName()
	if e := checkTableName(name); e != nil {
		return nil, e
	}
	s.writeMu.RLock()
	defer s.writeMu.RUnlock()
	s.catalogMu.Lock()
	t := s.tables[name]
	if t == nil {
		s.catalogMu.Unlock()
		return nil, errNoTable
	}
	t.mu.Lock()
	seq, err := s.logRecord(encodeNameRecord(recDeleteTable, name))
	if err != nil {
		t.mu.Unlock()
		s.catalogMu.Unlock()
		return nil, err
	}
	t.dropped = true
	t.mu.Unlock()
	delete(s.tables, name)
	s.catalogMu.Unlock()
	if e := s.durable(seq); e != nil {
		return nil, e
	}
	return &pb.DeleteTableResponse{}, nil
}

func (s *Server) describeTable(req *pb.DescribeTableRequest) (proto.Message, *apiError) {
	t, e := s.lookupTable(req.GetTableName())
	if e != nil {
		return nil, e
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return &pb.DescribeTableResponse{
		TableMeta:                 t.meta,
		ReservedThroughputDetails: t.throughputDetails(),
		TableOptions:              t.options(),
		TableStatus:               pb.TableStatus_ACTIVE.Enum(),
		StreamDetails:             &pb.StreamDetails{EnableStream: proto.Bool(false)},
	}, nil
}

func (t *table) throughputDetails() *pb.ReservedThroughputDetails {
	d := &pb.ReservedThroughputDetails{
		CapacityUnit:     &pb.CapacityUnit{Read: proto.Int32(t.readCU), Write: proto.Int32(t.writeCU)},
		LastIncreaseTime: proto.Int64(t.lastIncrease),
	}
	if t.lastDecrease != 0 {
		d.LastDecreaseTime = proto.Int64(t.lastDecrease)
	}
	return d
}

func (t *table) options() *pb.TableOptions {
	return &pb.TableOptions{
		TimeToLive:                proto.Int32(t.opt.ttl),
		MaxVersions:               proto.Int32(t.opt.maxVersions),
		DeviationCellVersionInSec: proto.Int64(t.opt.deviation),
	}
}

func (s *Server) updateTable(req *pb.UpdateTableRequest) (proto.Message, *apiError) {
	if req.ReservedThroughput == nil && req.TableOptions == nil && req.StreamSpec == nil {
		return nil, invalid("Nothing to update: reserved throughput, table options or stream spec is required.")
	}
	if req.GetStreamSpec().GetEnableStream() {
		return nil, invalid("Streams are not supported by this emulator.")
	}
	cu := req.GetReservedThroughput().GetCapacityUnit()
	if req.ReservedThroughput != nil {
		if cu == nil || (cu.Read == nil && cu.Write == nil) {
			return nil, invalid("The reserved throughput to update sets neither read nor write capacity units.")
		}
		if e := checkCU(cu); e != nil {
			return nil, e
		}
	}
	t, e := s.lookupTable(req.GetTableName())
	if e != nil {
		return nil, e
	}
	s.writeMu.RLock()
	defer s.writeMu.RUnlock()
	t.mu.Lock()
	if t.dropped {
		t.mu.Unlock()
		return nil, errNoTable
	}
	next := t.opt // validate everything before changing anything
	if req.TableOptions != nil {
		if e := next.apply(req.TableOptions); e != nil {
			t.mu.Unlock()
			return nil, e
		}
	}
	prevOpt, prevRead, prevWrite, prevInc, prevDec := t.opt, t.readCU, t.writeCU, t.lastIncrease, t.lastDecrease
	t.opt = next
	if req.ReservedThroughput != nil {
		now := s.now().Unix()
		for _, p := range []struct {
			field *int32
			to    *int32
		}{{&t.readCU, cu.Read}, {&t.writeCU, cu.Write}} {
			if p.to == nil || *p.to == *p.field {
				continue
			}
			if *p.to > *p.field {
				t.lastIncrease = now
			} else {
				t.lastDecrease = now
			}
			*p.field = *p.to
		}
	}
	seq, err := s.logRecord(encodeTableRecord(recUpdateTable, t))
	if err != nil { // the log refused the change: undo it
		t.opt, t.readCU, t.writeCU, t.lastIncrease, t.lastDecrease = prevOpt, prevRead, prevWrite, prevInc, prevDec
	} else {
		t.lastSeq = seq
	}
	resp := &pb.UpdateTableResponse{
		ReservedThroughputDetails: t.throughputDetails(),
		TableOptions:              t.options(),
		StreamDetails:             &pb.StreamDetails{EnableStream: proto.Bool(false)},
	}
	t.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if e := s.durable(seq); e != nil {
		return nil, e
	}
	return resp, nil
}
