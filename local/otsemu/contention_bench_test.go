package otsemu_test

import (
	"testing"

	"github.com/aliyun/aliyun-tablestore-go-sdk/tablestore"
)

// BenchmarkHotCounter: many clients incrementing one counter (the worst case for the row's
// table lock), as engagement counters do.
func BenchmarkHotCounter(b *testing.B) {
	tg, table := benchTarget(b, false, false)
	b.SetParallelism(50)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := tg.client(0)
		for pb.Next() {
			u := &tablestore.UpdateRowChange{TableName: table, PrimaryKey: pk1("id", "hot")}
			u.IncrementColumn("n", 1)
			if _, err := update(c, u); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
