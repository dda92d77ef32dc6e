package otsemu_test

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/aliyun/aliyun-tablestore-go-sdk/tablestore"
)

// BenchmarkHotCounter: many clients incrementing one counter (the worst case for the row's
// table lock), as engagement counters do.
func BenchmarkHotCounter(b *testing.B) {
	tg, table := benchTarget(b, false, false)
	b.SetParallelism(50)
	b.ResetTimer()
	cpu := cpuTime()
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
	reportCPU(b, cpu)
}

// BenchmarkDurablePutRowClients shows group commit: with a durable data directory every
// acknowledged write waits for an fsync, and concurrent writers share one.
func BenchmarkDurablePutRowClients(b *testing.B) {
	tg, table := benchTarget(b, true, false)
	for _, clients := range []int{2, 16, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			var n atomic.Int64
			b.SetParallelism(max(1, clients/runtime.GOMAXPROCS(0)))
			cpu := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				c := tg.client(0)
				for pb.Next() {
					i := n.Add(1)
					p := &tablestore.PutRowChange{TableName: table, PrimaryKey: pk1("id", fmt.Sprintf("row%08d", i%10000))}
					p.AddColumn("views", i)
					p.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
					if _, err := c.PutRow(&tablestore.PutRowRequest{PutRowChange: p}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			reportCPU(b, cpu)
		})
	}
}
