package tiering

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/tablestore"
)

// ReportPrefix is where the nightly storage reports go, one per day.
const ReportPrefix = vodfc.ReportsPrefix + "storage/"

// ReportKey is the object key of the report of date (yyyy-mm-dd).
func ReportKey(date string) string { return ReportPrefix + date + ".json" }

// Totals are the objects of one class (or of everything).
type Totals struct {
	Objects int64 `json:"objects"`
	Bytes   int64 `json:"bytes"`
	// BilledBytes counts objects under 64 KiB as 64 KiB outside Standard, as OSS bills them.
	BilledBytes int64 `json:"billed_bytes"`
	// MonthlyCost at the report's prices (CNY).
	MonthlyCost float64 `json:"monthly_cost"`

	// cost is MonthlyCost before rounding: rounding each addition would drift by up to half
	// a unit per object.
	cost float64
}

func (t *Totals) add(p Prices, class string, size int64) {
	t.Objects++
	t.Bytes += size
	t.BilledBytes += BilledSize(class, size)
	t.cost += p.Monthly(class, size)
	t.MonthlyCost = round(t.cost)
}

// Report is what the media bucket costs, what tiering saved and what it did. It is computed
// from a listing of the whole bucket, so it shows the classes actually held.
type Report struct {
	Date        string    `json:"date"`
	GeneratedAt time.Time `json:"generated_at"`
	Bucket      string    `json:"bucket"`
	Currency    string    `json:"currency"`
	Prices      Prices    `json:"prices"`
	// Classes are the bucket's objects by storage class; Areas the same per top-level prefix
	// (media, uploads, reports, other).
	Classes map[string]*Totals            `json:"classes"`
	Areas   map[string]map[string]*Totals `json:"areas"`
	Total   Totals                        `json:"total"`
	// MonthlyCost is the storage bill per month at the classes held; AllStandardMonthlyCost
	// what the same objects would cost in Standard; MonthlySaving the difference and
	// SavingRatio its share of the all-Standard bill.
	MonthlyCost            float64 `json:"monthly_cost"`
	AllStandardMonthlyCost float64 `json:"all_standard_monthly_cost"`
	MonthlySaving          float64 `json:"monthly_saving"`
	SavingRatio            float64 `json:"saving_ratio"`
	// EarlyMoveCharges are the minimum-storage-duration remainders paid to move objects
	// early (CNY): by this run, over the last 30 days and in all (per videos still present).
	EarlyMoveCharges struct {
		ThisRun    float64 `json:"this_run"`
		Last30Days float64 `json:"last_30_days"`
		Total      float64 `json:"total"`
	} `json:"early_move_charges"`
	// Restores of archived objects: under way, and done (readable until they expire).
	Restores struct {
		InProgress      int64 `json:"in_progress"`
		InProgressBytes int64 `json:"in_progress_bytes"`
		Restored        int64 `json:"restored"`
		RestoredBytes   int64 `json:"restored_bytes"`
	} `json:"restores"`
	// Run is what the run that wrote the report did.
	Run *RunResult `json:"run"`
}

// area is the report area of a key: its top-level prefix.
func area(key string) string {
	switch {
	case strings.HasPrefix(key, vodfc.MediaPrefix):
		return "media"
	case strings.HasPrefix(key, vodfc.UploadsPrefix):
		return "uploads"
	case strings.HasPrefix(key, vodfc.ReportsPrefix):
		return "reports"
	}
	return "other"
}

// Build computes the report of the bucket at now.
func (r *Runner) Build(ctx context.Context, now time.Time, run *RunResult) (*Report, error) {
	p := r.cfg.Policy.Prices
	rep := &Report{Date: now.In(r.cfg.ReportZone).Format(time.DateOnly), GeneratedAt: now.UTC(), Bucket: r.cfg.Media.Bucket(),
		Currency: "CNY", Prices: p, Classes: map[string]*Totals{}, Areas: map[string]map[string]*Totals{}, Run: run}
	std := 0.0
	err := r.cfg.Media.List(ctx, "", func(o oss.Object) error {
		class := o.Class
		if rep.Classes[class] == nil {
			rep.Classes[class] = &Totals{}
		}
		rep.Classes[class].add(p, class, o.Size)
		a := area(o.Key)
		if rep.Areas[a] == nil {
			rep.Areas[a] = map[string]*Totals{}
		}
		if rep.Areas[a][class] == nil {
			rep.Areas[a][class] = &Totals{}
		}
		rep.Areas[a][class].add(p, class, o.Size)
		rep.Total.add(p, class, o.Size)
		std += p.Monthly(oss.Standard, o.Size)
		if Archived(class) && o.Restore.Requested {
			if o.Restore.Ongoing {
				rep.Restores.InProgress++
				rep.Restores.InProgressBytes += o.Size
			} else {
				rep.Restores.Restored++
				rep.Restores.RestoredBytes += o.Size
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep.MonthlyCost = rep.Total.MonthlyCost
	rep.AllStandardMonthlyCost = round(std)
	rep.MonthlySaving = round(std - rep.Total.cost)
	if std > 0 {
		rep.SavingRatio = round(rep.MonthlySaving / std)
	}
	if run != nil {
		rep.EarlyMoveCharges.ThisRun = run.EarlyCharges
	}
	since := now.Add(-30 * Day)
	err = r.cfg.DB.Scan(ctx, tablestore.MediaTiers.Name, tablestore.Range{
		Start: tablestore.K("video_id", tablestore.Min), End: tablestore.K("video_id", tablestore.Max),
		Cols: []string{colHistory, colCharges},
	}, func(row *tablestore.Row) error {
		t := rowFrom(row)
		rep.EarlyMoveCharges.Total += t.Charges
		for _, recs := range t.History {
			for _, rec := range recs {
				if !rec.At.Before(since) {
					rep.EarlyMoveCharges.Last30Days += rec.Verdict.EarlyCharge
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep.EarlyMoveCharges.Total = round(rep.EarlyMoveCharges.Total)
	rep.EarlyMoveCharges.Last30Days = round(rep.EarlyMoveCharges.Last30Days)
	return rep, nil
}

// Report builds the report at now and stores it under reports/storage/{date}.json (a later
// run of the same day replaces it).
func (r *Runner) Report(ctx context.Context, now time.Time, run *RunResult) (*Report, error) {
	rep, err := r.Build(ctx, now, run)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, err
	}
	key := ReportKey(rep.Date)
	if err := r.cfg.Media.Put(ctx, key, bytes.NewReader(b), oss.PutOptions{ContentType: "application/json"}); err != nil {
		return nil, err
	}
	r.log().InfoContext(ctx, "tiering: storage report written", "key", key, "objects", rep.Total.Objects, "bytes", rep.Total.Bytes,
		"monthly_cost", rep.MonthlyCost, "all_standard_monthly_cost", rep.AllStandardMonthlyCost, "saving_ratio", rep.SavingRatio,
		"early_move_charges", rep.EarlyMoveCharges.ThisRun, "restores_in_progress", rep.Restores.InProgress)
	return rep, nil
}

// Reports serves the latest storage report to admins.
type Reports struct {
	media *oss.Store
}

// NewReports returns the report reader over the media bucket.
func NewReports(media *oss.Store) *Reports { return &Reports{media: media} }

// Latest returns the newest stored report as written.
func (rs *Reports) Latest(ctx context.Context) ([]byte, error) {
	latest := ""
	err := rs.media.List(ctx, ReportPrefix, func(o oss.Object) error {
		if strings.HasSuffix(o.Key, ".json") && o.Key > latest {
			latest = o.Key
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if latest == "" {
		return nil, vodfc.NotFound("report_not_found", "no storage report yet: the tiering timer writes one each night")
	}
	return rs.media.ReadAll(ctx, latest)
}

// Register adds GET /api/v1/admin/storage/report, for admins only.
func (rs *Reports) Register(r *httpapi.Router, verify httpapi.TokenVerifier) {
	r.HandleFunc("GET /api/v1/admin/storage/report", rs.handleLatest, httpapi.RequireAuth(verify), httpapi.RequireRole(vodfc.RoleAdmin))
}

func (rs *Reports) handleLatest(w http.ResponseWriter, r *http.Request) {
	b, err := rs.Latest(r.Context())
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "private, no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
