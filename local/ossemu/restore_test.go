package ossemu_test

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// restoreStatus sends RestoreObject itself, to see 202 versus 200.
func restoreStatus(t *testing.T, tg *target, bucket, key string) int {
	t.Helper()
	resp, err := tg.client(t).Conn.Do("POST", bucket, key, map[string]interface{}{"restore": nil}, nil, nil, 0, nil)
	if err != nil {
		t.Fatalf("RestoreObject: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestArchiveRestore(t *testing.T) {
	tg := tgt(t)
	b := tg.bkt(t)
	key := tg.key("archive/old 老.mp4")
	data := randBytes(2000)
	put(t, b, key, data, oss.ObjectStorageClass(oss.StorageArchive))

	h, err := b.GetObjectDetailedMeta(key) // HEAD works on archived objects
	if err != nil || h.Get("X-Oss-Storage-Class") != "Archive" || h.Get("X-Oss-Restore") != "" {
		t.Fatalf("HEAD archived: %v %v", h, err)
	}
	res, _ := b.ListObjectsV2(oss.Prefix(key))
	if len(res.Objects) != 1 || res.Objects[0].StorageClass != "Archive" {
		t.Fatalf("listing: %+v", res.Objects)
	}
	_, err = b.GetObject(key)
	svcErr(t, err, 403, "InvalidObjectState")
	_, err = b.CopyObject(key, tg.key("archive/copy"))
	svcErr(t, err, 403, "InvalidObjectState")
	svcErr(t, b.RestoreObject(tg.key("archive/missing")), 404, "NoSuchKey")

	if st := restoreStatus(t, tg, tg.bucket, key); st != 202 {
		t.Fatalf("first RestoreObject: %d, want 202", st)
	}
	svcErr(t, b.RestoreObject(key), 409, "RestoreAlreadyInProgress")
	h, _ = b.GetObjectDetailedMeta(key)
	if h.Get("X-Oss-Restore") != `ongoing-request="true"` {
		t.Fatalf("x-oss-restore while restoring: %q", h.Get("X-Oss-Restore"))
	}
	_, err = b.GetObject(key)
	svcErr(t, err, 403, "InvalidObjectState")

	tg.needEmulator(t, "fast-forwards the restore")
	tg.sim.shift(t, 2*time.Minute)
	h, _ = b.GetObjectDetailedMeta(key)
	if !strings.HasPrefix(h.Get("X-Oss-Restore"), `ongoing-request="false", expiry-date="`) {
		t.Fatalf("x-oss-restore after the restore: %q", h.Get("X-Oss-Restore"))
	}
	if !bytes.Equal(getAll(t, b, key), data) {
		t.Fatal("restored object has other bytes")
	}
	res, _ = b.ListObjectsV2(oss.Prefix(key))
	if !strings.Contains(res.Objects[0].RestoreInfo, `ongoing-request="false"`) {
		t.Fatalf("listing RestoreInfo: %q", res.Objects[0].RestoreInfo)
	}
	if st := restoreStatus(t, tg, tg.bucket, key); st != 200 {
		t.Fatalf("RestoreObject on a restored object: %d, want 200", st)
	}
	// The restored copy expires (1 day by default, extended from the last request).
	tg.sim.shift(t, 25*time.Hour)
	_, err = b.GetObject(key)
	svcErr(t, err, 403, "InvalidObjectState")
	h, _ = b.GetObjectDetailedMeta(key)
	if h.Get("X-Oss-Restore") != "" {
		t.Fatalf("x-oss-restore after expiry: %q", h.Get("X-Oss-Restore"))
	}
	// Restore again, then move it back to Standard with a self-copy.
	if st := restoreStatus(t, tg, tg.bucket, key); st != 202 {
		t.Fatalf("restore after expiry: %d", st)
	}
	tg.sim.shift(t, 2*time.Minute)
	if _, err := b.CopyObject(key, key, oss.ObjectStorageClass(oss.StorageStandard)); err != nil {
		t.Fatal(err)
	}
	h, _ = b.GetObjectDetailedMeta(key)
	if h.Get("X-Oss-Storage-Class") != "Standard" || h.Get("X-Oss-Restore") != "" {
		t.Fatalf("after the class change: %v", h)
	}
	tg.sim.shift(t, 30*24*time.Hour)
	if !bytes.Equal(getAll(t, b, key), data) {
		t.Fatal("Standard object unreadable")
	}
	plain := tg.key("archive/plain")
	put(t, b, plain, data)
	svcErr(t, b.RestoreObject(plain), 400, "OperationNotSupported")
}

func TestColdArchiveRestoreTiers(t *testing.T) {
	tg := tgt(t)
	tg.needEmulator(t, "Cold Archive restores take hours")
	b := tg.bkt(t)
	key := tg.key("cold/x")
	put(t, b, key, []byte("cold"), oss.ObjectStorageClass(oss.StorageColdArchive))
	if err := b.RestoreObjectDetail(key, oss.RestoreConfiguration{Days: 3, Tier: string(oss.RestoreExpedited)}); err != nil {
		t.Fatal(err)
	}
	tg.sim.shift(t, 59*time.Minute)
	_, err := b.GetObject(key)
	svcErr(t, err, 403, "InvalidObjectState")
	tg.sim.shift(t, 2*time.Minute) // Expedited: one hour with the default delay
	getAll(t, b, key)
	tg.sim.shift(t, 71*time.Hour) // restored for 3 days
	getAll(t, b, key)
	tg.sim.shift(t, 2*time.Hour)
	_, err = b.GetObject(key)
	svcErr(t, err, 403, "InvalidObjectState")

	key2 := tg.key("cold/y")
	put(t, b, key2, []byte("cold"), oss.ObjectStorageClass(oss.StorageColdArchive))
	if err := b.RestoreObject(key2); err != nil { // Standard tier: five hours
		t.Fatal(err)
	}
	tg.sim.shift(t, 4*time.Hour)
	_, err = b.GetObject(key2)
	svcErr(t, err, 403, "InvalidObjectState")
	tg.sim.shift(t, 61*time.Minute)
	getAll(t, b, key2)
	err = b.RestoreObjectDetail(key2, oss.RestoreConfiguration{Days: 1000})
	svcErr(t, err, 400, "InvalidArgument")
}

func TestUsageFollowsTheSimulationClock(t *testing.T) {
	tg := tgt(t)
	b, name := tg.newBucket(t)
	ia := randBytes(10) // billed as 64 KB
	put(t, b, "ia", ia, oss.ObjectStorageClass(oss.StorageIA))
	arch := randBytes(100 << 10)
	put(t, b, "arch", arch, oss.ObjectStorageClass(oss.StorageArchive))

	tg.sim.shift(t, 10*24*time.Hour)
	if err := b.DeleteObject("ia"); err != nil { // 20 days before IA's 30-day minimum
		t.Fatal(err)
	}
	tg.sim.shift(t, 55*24*time.Hour)
	if err := b.DeleteObject("arch"); err != nil { // 65 days: past Archive's 60
		t.Fatal(err)
	}
	u, err := tg.emu.Usage(name)
	if err != nil {
		t.Fatal(err)
	}
	approx := func(got, want float64) bool { return math.Abs(got-want) <= want*1e-3 }
	if want := float64(64<<10) * 20 * 24; !approx(u.EarlyDeletionByteHours["IA"], want) {
		t.Fatalf("IA early deletion %v byte-hours, want %v", u.EarlyDeletionByteHours["IA"], want)
	}
	if u.EarlyDeletionByteHours["Archive"] != 0 {
		t.Fatalf("Archive deleted after its minimum was charged %v", u.EarlyDeletionByteHours["Archive"])
	}
	if want := float64(64<<10) * 10 * 24; !approx(u.ByteHours["IA"], want) {
		t.Fatalf("IA storage %v byte-hours, want %v", u.ByteHours["IA"], want)
	}
	if want := float64(100<<10) * 65 * 24; !approx(u.ByteHours["Archive"], want) {
		t.Fatalf("Archive storage %v byte-hours, want %v", u.ByteHours["Archive"], want)
	}
	if u.StoredBytes["IA"] != 0 || u.StoredBytes["Archive"] != 0 {
		t.Fatalf("stored after deleting everything: %v", u.StoredBytes)
	}
	// A class change by self-copy before the minimum is charged like a deletion.
	put(t, b, "move", randBytes(1<<20), oss.ObjectStorageClass(oss.StorageIA))
	tg.sim.shift(t, 24*time.Hour)
	if _, err := b.CopyObject("move", "move", oss.ObjectStorageClass(oss.StorageArchive)); err != nil {
		t.Fatal(err)
	}
	u2, _ := tg.emu.Usage(name)
	if got, want := u2.EarlyDeletionByteHours["IA"]-u.EarlyDeletionByteHours["IA"], float64(1<<20)*29*24; !approx(got, want) {
		t.Fatalf("early charge for a class change after 1 day: %v, want %v", got, want)
	}

}
