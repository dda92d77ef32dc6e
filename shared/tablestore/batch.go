package tablestore

import (
	"context"
	"fmt"
	"time"

	ts "github.com/aliyun/aliyun-tablestore-go-sdk/tablestore"
)

// Service limits on one batch request (REFERENCE §4).
const (
	maxBatchGet   = 100
	maxBatchWrite = 200
)

// BatchGet reads many rows of one table. The result is aligned with keys: nil where a row does
// not exist. Keys are sent in chunks of the service limit; rows the service reports as failed
// (throttled) are retried a few times before the call fails.
func (c *Client) BatchGet(ctx context.Context, table string, keys []Key, cols ...string) ([]*Row, error) {
	out := make([]*Row, len(keys))
	for start := 0; start < len(keys); start += maxBatchGet {
		end := min(start+maxBatchGet, len(keys))
		pending := make([]int, 0, end-start)
		for i := start; i < end; i++ {
			pending = append(pending, i)
		}
		for attempt := 0; len(pending) > 0; attempt++ {
			cl, err := c.client(ctx)
			if err != nil {
				return nil, err
			}
			crit := &ts.MultiRowQueryCriteria{TableName: table, MaxVersion: 1, ColumnsToGet: cols}
			for _, i := range pending {
				crit.AddRow(keys[i].sdk())
			}
			resp, err := cl.BatchGetRow(&ts.BatchGetRowRequest{MultiRowQueryCriteria: []*ts.MultiRowQueryCriteria{crit}})
			if err != nil {
				return nil, wrapErr("BatchGetRow", table, err)
			}
			var failed []int
			var lastErr error
			for _, rr := range resp.TableToRowsResult[table] {
				i := pending[rr.Index]
				if !rr.IsSucceed {
					failed = append(failed, i)
					lastErr = &Error{Code: rr.Error.Code, Message: rr.Error.Message, Op: "BatchGetRow", Table: table}
					continue
				}
				if len(rr.PrimaryKey.PrimaryKeys) > 0 {
					out[i] = rowFromSDK(&rr.PrimaryKey, rr.Columns)
				}
			}
			if len(failed) > 0 && (attempt >= 4 || !IsBusy(lastErr)) {
				return nil, lastErr
			}
			pending = failed
			if len(pending) > 0 {
				if err := sleep(ctx, backoff(attempt)); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// Write is one row change of a batch.
type Write struct {
	Table  string
	Key    Key
	Put    Cols    // a put replaces the row with these columns
	Update *Change // an update changes some columns (increments are not returned in batches)
	Delete bool    // a delete removes the row
	Cond   Cond
}

func (w Write) change() (ts.RowChange, error) {
	switch {
	case w.Delete:
		return &ts.DeleteRowChange{TableName: w.Table, PrimaryKey: w.Key.sdk(), Condition: w.Cond.sdk()}, nil
	case w.Update != nil:
		return updateChange(w.Table, w.Key, *w.Update, w.Cond), nil
	case w.Put != nil:
		return putChange(w.Table, w.Key, w.Put, w.Cond), nil
	}
	return nil, fmt.Errorf("tablestore: write to %s %s has no Put, Update or Delete", w.Table, fmtKey(w.Key))
}

// BatchError reports the writes of a batch that failed, by their index in the input.
type BatchError struct {
	Failed map[int]error
}

func (e *BatchError) Error() string {
	for i, err := range e.Failed {
		return fmt.Sprintf("tablestore: %d of the batch's writes failed (e.g. #%d: %v)", len(e.Failed), i, err)
	}
	return "tablestore: batch failed"
}

// Unwrap exposes the individual errors so errors.Is(err, ErrConditionFailed) works.
func (e *BatchError) Unwrap() []error {
	errs := make([]error, 0, len(e.Failed))
	for _, err := range e.Failed {
		errs = append(errs, err)
	}
	return errs
}

// BatchWrite applies writes across tables in chunks of the service limit. Each write is atomic
// on its own row; the batch as a whole is not. Writes rejected as busy are retried; other
// failures (a failed condition) are returned in a *BatchError by input index, and the other
// writes stand.
func (c *Client) BatchWrite(ctx context.Context, writes []Write) error {
	failedAll := map[int]error{}
	for start := 0; start < len(writes); start += maxBatchWrite {
		end := min(start+maxBatchWrite, len(writes))
		pending := make([]int, 0, end-start)
		for i := start; i < end; i++ {
			pending = append(pending, i)
		}
		for attempt := 0; len(pending) > 0; attempt++ {
			req := &ts.BatchWriteRowRequest{}
			order := map[string][]int{} // table → input indexes in request order
			for _, i := range pending {
				ch, err := writes[i].change()
				if err != nil {
					return err
				}
				req.AddRowChange(ch)
				order[writes[i].Table] = append(order[writes[i].Table], i)
			}
			var resp *ts.BatchWriteRowResponse
			err := c.retryWrite(ctx, func(cl *ts.TableStoreClient) error {
				var err error
				resp, err = cl.BatchWriteRow(req)
				return wrapErr("BatchWriteRow", "", err)
			})
			if err != nil {
				return err
			}
			var retry []int
			for table, results := range resp.TableToRowsResult {
				for _, rr := range results {
					if rr.IsSucceed {
						continue
					}
					i := order[table][rr.Index]
					e := &Error{Code: rr.Error.Code, Message: rr.Error.Message, Op: "BatchWriteRow", Table: table}
					if e.notApplied() && attempt < 4 {
						retry = append(retry, i)
					} else {
						failedAll[i] = e
					}
				}
			}
			pending = retry
			if len(pending) > 0 {
				if err := sleep(ctx, backoff(attempt)); err != nil {
					return err
				}
			}
		}
	}
	if len(failedAll) > 0 {
		return &BatchError{Failed: failedAll}
	}
	return nil
}

func backoff(attempt int) time.Duration {
	return time.Duration(20<<attempt) * time.Millisecond
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
