package tablestore

import (
	"context"

	ts "github.com/aliyun/aliyun-tablestore-go-sdk/tablestore"
)

// Range describes a range read. Start is inclusive and End exclusive in the direction of
// reading: a backward read starts at the high end.
type Range struct {
	Start, End Key
	Backward   bool
	Limit      int      // rows to return at most; 0 means one service page
	Cols       []string // columns to return; none means all
	Where      []Pred   // filter applied by the service (rows not matching are skipped)
}

// GetRange reads one page: up to Limit rows, and the key to continue from (nil at the end).
// The service may stop a page early (5000 rows or 4 MB); GetRange keeps reading until Limit
// rows are collected or the range ends, so callers page by their own limit.
func (c *Client) GetRange(ctx context.Context, table string, r Range) ([]*Row, Key, error) {
	var rows []*Row
	start := r.Start
	for {
		cl, err := c.client(ctx)
		if err != nil {
			return nil, nil, err
		}
		crit := &ts.RangeRowQueryCriteria{TableName: table, StartPrimaryKey: start.sdk(), EndPrimaryKey: r.End.sdk(),
			MaxVersion: 1, ColumnsToGet: r.Cols}
		if r.Backward {
			crit.Direction = ts.BACKWARD
		}
		if r.Limit > 0 {
			crit.Limit = int32(min(r.Limit-len(rows), 5000))
		}
		if len(r.Where) > 0 {
			crit.Filter = Always.Where(r.Where...).filter
		}
		resp, err := cl.GetRange(&ts.GetRangeRequest{RangeRowQueryCriteria: crit})
		if err != nil {
			return nil, nil, wrapErr("GetRange", table, err)
		}
		for _, row := range resp.Rows {
			rows = append(rows, rowFromSDK(row.PrimaryKey, row.Columns))
		}
		if resp.NextStartPrimaryKey == nil {
			return rows, nil, nil
		}
		start = keyFromSDK(resp.NextStartPrimaryKey)
		if r.Limit > 0 && len(rows) >= r.Limit {
			return rows, start, nil
		}
	}
}

// Scan calls fn for every row in the range, page by page, until fn returns an error or the
// range ends. fn returning ErrStop ends the scan without error.
func (c *Client) Scan(ctx context.Context, table string, r Range, fn func(*Row) error) error {
	page := r
	if page.Limit == 0 || page.Limit > 1000 {
		page.Limit = 1000
	}
	for {
		rows, next, err := c.GetRange(ctx, table, page)
		if err != nil {
			return err
		}
		for _, row := range rows {
			if err := fn(row); err != nil {
				if err == ErrStop {
					return nil
				}
				return err
			}
		}
		if next == nil {
			return nil
		}
		page.Start = next
	}
}

// ErrStop ends a Scan early without an error.
var ErrStop = stopError{}

type stopError struct{}

func (stopError) Error() string { return "tablestore: scan stopped" }
