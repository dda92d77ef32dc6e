package videos

import "testing"

func TestPartPlanStaysWithinOSSLimits(t *testing.T) {
	c := DefaultConfig()
	for _, size := range []int64{64<<20 + 1, 4 << 30, 200 << 30, 10000 * (16 << 20), 10000*(16<<20) + 1} {
		ps, n := c.partPlan(size)
		if n > MaxParts || ps < c.PartSize || ps%(1<<20) != 0 || int64(n-1)*ps >= size || int64(n)*ps < size {
			t.Errorf("%d bytes: %d parts of %d", size, n, ps)
		}
	}
	if ps, n := c.partPlan(4 << 30); ps != 16<<20 || n != 256 {
		t.Errorf("4 GiB: %d parts of %d", n, ps)
	}
}
