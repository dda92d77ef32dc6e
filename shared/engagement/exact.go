package engagement

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"vodfc.dev/vodfc/tablestore"
)

// Writes whose replay is not harmless — an increment, a put that expects no row, a delete that
// expects one — must not be retried blindly. The Tablestore SDK retries every write whose
// response was lost to a reset connection or an EOF; for an increment that applied, the replay
// counts it twice, and for a conditional put that applied, the replay fails its condition and
// the caller takes the change for someone else's. So these writes go through an exact client
// that never retries by itself, and are retried here only on errors that say the service did
// not apply the write. Any other failure is ambiguous: the caller keeps its intent, and the
// rollup recount settles what really happened.

// ExactClient returns a client of the same instance as cfg that never retries.
func ExactClient(cfg tablestore.Config) (*tablestore.Client, error) {
	cfg.RetryTimes = 1
	cfg.MaxRetryTime = time.Nanosecond // the SDK gives up as soon as its budget is spent
	return tablestore.New(cfg)
}

// notApplied reports an error after which the write certainly did not happen: the service
// refused it before doing anything (throttling, a conflict on the row, a partition moving).
func notApplied(err error) bool {
	var e *tablestore.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case "OTSServerBusy", "OTSRowOperationConflict", "OTSNotEnoughCapacityUnit", "OTSTableNotReady",
		"OTSPartitionUnavailable", "OTSQuotaExhausted":
		return true
	}
	return false
}

// Exactly runs a write through the exact client, retrying it only while it was certainly not
// applied (up to about 3 s, like the SDK's own budget).
func Exactly(ctx context.Context, write func() error) error {
	pause := 4 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := write()
		if err == nil || !notApplied(err) || attempt >= 10 {
			return err
		}
		t := time.NewTimer(pause + time.Duration(rand.Int64N(int64(pause))))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		pause = min(pause*2, 400*time.Millisecond)
	}
}
