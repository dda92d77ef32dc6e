package otsemu

import (
	"bytes"
	"cmp"
	"regexp"
	"strconv"

	pb "github.com/aliyun/aliyun-tablestore-go-sdk/tablestore/otsprotocol"
	"github.com/golang/protobuf/proto"

	"vodfc.dev/local/otsemu/plainbuffer"
)

// Filters (on reads) and column conditions (on writes) share one wire form, pb.Filter, and
// one evaluation: a tree of AND/OR/NOT over single-column comparisons.

const (
	maxFilterConditions = 32 // Tablestore: "The count of filter exceeds the max: 32."
	maxFilterDepth      = 32
)

type filter interface {
	match(v *rowView) bool
}

type singleFilter struct {
	column            string
	comparator        pb.ComparatorType
	value             plainbuffer.Value
	passIfMissing     bool
	latestVersionOnly bool
	transfer          *regexp.Regexp
	castType          pb.VariantType
}

type compositeFilter struct {
	op   pb.LogicalOperator
	subs []filter
}

// pagination is ColumnPaginationFilter: return limit columns after skipping offset.
type pagination struct {
	offset, limit int
}

func (p *pagination) apply(cols []column) []column {
	if p.offset >= len(cols) {
		return nil
	}
	cols = cols[p.offset:]
	if len(cols) > p.limit {
		cols = cols[:p.limit]
	}
	return cols
}

type filterParser struct {
	conditions int
	forWrite   bool
}

// parseFilter decodes a serialized pb.Filter. On reads a top-level ColumnPaginationFilter is
// returned as page; conditions on writes accept only column value filters.
func parseFilter(b []byte, forWrite bool) (filter, *pagination, *apiError) {
	p := &filterParser{forWrite: forWrite}
	var f pb.Filter
	if err := proto.Unmarshal(b, &f); err != nil {
		return nil, nil, invalid("Invalid filter: %v.", err)
	}
	if f.GetType() == pb.FilterType_FT_COLUMN_PAGINATION {
		if forWrite {
			return nil, nil, invalid("Column pagination filter is not allowed in a column condition.")
		}
		var pf pb.ColumnPaginationFilter
		if err := proto.Unmarshal(f.Filter, &pf); err != nil {
			return nil, nil, invalid("Invalid column pagination filter: %v.", err)
		}
		if pf.GetOffset() < 0 || pf.GetLimit() <= 0 {
			return nil, nil, invalid("The offset of column pagination filter must be >= 0 and its limit > 0.")
		}
		return nil, &pagination{offset: int(pf.GetOffset()), limit: int(pf.GetLimit())}, nil
	}
	flt, err := p.parse(&f, 0)
	return flt, nil, err
}

func (p *filterParser) parse(f *pb.Filter, depth int) (filter, *apiError) {
	if depth > maxFilterDepth {
		return nil, invalid("The depth of filter exceeds the max: %d.", maxFilterDepth)
	}
	switch f.GetType() {
	case pb.FilterType_FT_SINGLE_COLUMN_VALUE:
		p.conditions++
		if p.conditions > maxFilterConditions {
			return nil, invalid("The count of filter exceeds the max: %d.", maxFilterConditions)
		}
		var sf pb.SingleColumnValueFilter
		if err := proto.Unmarshal(f.Filter, &sf); err != nil {
			return nil, invalid("Invalid single column value filter: %v.", err)
		}
		return p.single(&sf)
	case pb.FilterType_FT_COMPOSITE_COLUMN_VALUE:
		var cf pb.CompositeColumnValueFilter
		if err := proto.Unmarshal(f.Filter, &cf); err != nil {
			return nil, invalid("Invalid composite column value filter: %v.", err)
		}
		n := len(cf.SubFilters)
		switch cf.GetCombinator() {
		case pb.LogicalOperator_LO_NOT:
			if n != 1 {
				return nil, invalid("The number of sub filters of LO_NOT must be 1, got %d.", n)
			}
		case pb.LogicalOperator_LO_AND, pb.LogicalOperator_LO_OR:
			if n < 2 {
				return nil, invalid("The number of sub filters of %s must be at least 2, got %d.", cf.GetCombinator(), n)
			}
		default:
			return nil, invalid("Invalid logical operator: %d.", cf.GetCombinator())
		}
		out := &compositeFilter{op: cf.GetCombinator()}
		for _, sub := range cf.SubFilters {
			if sub.GetType() == pb.FilterType_FT_COLUMN_PAGINATION {
				return nil, invalid("Column pagination filter can not be a sub filter.")
			}
			s, err := p.parse(sub, depth+1)
			if err != nil {
				return nil, err
			}
			out.subs = append(out.subs, s)
		}
		return out, nil
	case pb.FilterType_FT_COLUMN_PAGINATION:
		return nil, invalid("Column pagination filter can not be a sub filter.")
	}
	return nil, invalid("Invalid filter type: %d.", f.GetType())
}

func (p *filterParser) single(sf *pb.SingleColumnValueFilter) (filter, *apiError) {
	if e := checkColumnName(sf.GetColumnName()); e != nil {
		return nil, e
	}
	if c := sf.GetComparator(); c < pb.ComparatorType_CT_EQUAL || c > pb.ComparatorType_CT_LESS_EQUAL {
		return nil, invalid("Invalid comparator type: %d.", c)
	}
	v, err := plainbuffer.DecodeValue(sf.ColumnValue)
	if err != nil {
		return nil, invalid("Invalid column value in filter of column '%s': %v.", sf.GetColumnName(), err)
	}
	switch v.Type {
	case plainbuffer.TypeInteger, plainbuffer.TypeDouble, plainbuffer.TypeBoolean, plainbuffer.TypeString, plainbuffer.TypeBlob:
	default:
		return nil, invalid("%s is an invalid type for the column value in filter.", v.Type)
	}
	out := &singleFilter{
		column:            sf.GetColumnName(),
		comparator:        sf.GetComparator(),
		value:             v,
		passIfMissing:     !sf.GetFilterIfMissing(),
		latestVersionOnly: sf.GetLatestVersionOnly(),
	}
	if rule := sf.ValueTransRule; rule != nil {
		re, err := regexp.Compile(rule.GetRegex())
		if err != nil {
			return nil, invalid("Invalid regex in value transfer rule: %v.", err)
		}
		out.transfer, out.castType = re, rule.GetCastType()
		switch out.castType {
		case pb.VariantType_VT_INTEGER, pb.VariantType_VT_DOUBLE, pb.VariantType_VT_STRING:
		default:
			return nil, invalid("Invalid cast type in value transfer rule: %d.", out.castType)
		}
	}
	return out, nil
}

func (f *compositeFilter) match(v *rowView) bool {
	switch f.op {
	case pb.LogicalOperator_LO_NOT:
		return !f.subs[0].match(v)
	case pb.LogicalOperator_LO_AND:
		for _, s := range f.subs {
			if !s.match(v) {
				return false
			}
		}
		return true
	default: // LO_OR
		for _, s := range f.subs {
			if s.match(v) {
				return true
			}
		}
		return false
	}
}

func (f *singleFilter) match(v *rowView) bool {
	vs := v.lookup(f.column)
	if f.latestVersionOnly && len(vs) > 1 {
		vs = vs[:1]
	}
	seen := false
	for _, ver := range vs {
		val, ok := f.transform(ver.val)
		if !ok {
			continue
		}
		seen = true
		if f.compare(val) {
			return true
		}
	}
	if !seen {
		return f.passIfMissing
	}
	return false
}

// transform applies the value transfer rule: the regex's first group (or whole match) of a
// string column, cast to the rule's type. A value it cannot extract counts as missing.
func (f *singleFilter) transform(v plainbuffer.Value) (plainbuffer.Value, bool) {
	if f.transfer == nil {
		return v, true
	}
	if v.Type != plainbuffer.TypeString {
		return v, false
	}
	m := f.transfer.FindSubmatch(v.Bytes)
	if m == nil {
		return v, false
	}
	s := m[0]
	if len(m) > 1 {
		s = m[1]
	}
	switch f.castType {
	case pb.VariantType_VT_INTEGER:
		n, err := strconv.ParseInt(string(s), 10, 64)
		return plainbuffer.Integer(n), err == nil
	case pb.VariantType_VT_DOUBLE:
		d, err := strconv.ParseFloat(string(s), 64)
		return plainbuffer.Double(d), err == nil
	default:
		return plainbuffer.Value{Type: plainbuffer.TypeString, Bytes: s}, true
	}
}

// compare applies the comparator to (column value, filter value). Values of different types
// never satisfy a comparison.
func (f *singleFilter) compare(col plainbuffer.Value) bool {
	if col.Type != f.value.Type {
		return false
	}
	var c int
	switch col.Type {
	case plainbuffer.TypeInteger:
		c = cmp.Compare(col.Int, f.value.Int)
	case plainbuffer.TypeDouble:
		if col.Float != col.Float || f.value.Float != f.value.Float { // NaN compares with nothing
			return f.comparator == pb.ComparatorType_CT_NOT_EQUAL
		}
		c = cmp.Compare(col.Float, f.value.Float)
	case plainbuffer.TypeBoolean:
		c = cmp.Compare(b2i(col.Bool), b2i(f.value.Bool))
	default:
		c = bytes.Compare(col.Bytes, f.value.Bytes)
	}
	switch f.comparator {
	case pb.ComparatorType_CT_EQUAL:
		return c == 0
	case pb.ComparatorType_CT_NOT_EQUAL:
		return c != 0
	case pb.ComparatorType_CT_GREATER_THAN:
		return c > 0
	case pb.ComparatorType_CT_GREATER_EQUAL:
		return c >= 0
	case pb.ComparatorType_CT_LESS_THAN:
		return c < 0
	default:
		return c <= 0
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
