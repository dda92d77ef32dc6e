package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"vodfc.dev/local/fcemu"
	"vodfc.dev/local/gateway"
	"vodfc.dev/local/manifest"
	"vodfc.dev/local/otsemu"
	"vodfc.dev/local/scheduler"
)

// console is the developer console under /_local/ on the gateway port.
func (c *Cloud) console() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_local/health", c.health)
	mux.HandleFunc("GET /_local/functions", c.functionsInfo)
	mux.HandleFunc("GET /_local/invocations", c.invocations)
	mux.HandleFunc("POST /_local/invoke/{function}", c.invoke)
	mux.HandleFunc("GET /_local/timers", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, c.Scheduler.Status())
	})
	mux.HandleFunc("POST /_local/timers/{function}/{trigger}", c.fireTimer)
	if c.mail != nil {
		mux.Handle("/_local/mail", c.mail.Handler())
	}
	mux.HandleFunc("POST /_local/ots/faults", c.setFaults)
	mux.HandleFunc("GET /_local/clock", c.getClock)
	mux.HandleFunc("POST /_local/clock", c.advanceClock)
	mux.HandleFunc("/_local/", func(w http.ResponseWriter, r *http.Request) {
		gateway.Problem(w, http.StatusNotFound, "NotFound", fmt.Sprintf("the console has no %s %s; see GET /_local/health", r.Method, r.URL.Path))
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// Endpoints lists what runs where, for people and scripts.
type Endpoints struct {
	Gateway     string `json:"gateway"`
	Console     string `json:"console"`
	Redis       string `json:"redis"`
	OSS         string `json:"oss,omitempty"`
	Tablestore  string `json:"tablestore,omitempty"`
	OTSInstance string `json:"otsInstance,omitempty"`
	SMTP        string `json:"smtp,omitempty"`
	DataDir     string `json:"dataDir"`
}

// Endpoints of this cloud.
func (c *Cloud) Endpoints() Endpoints {
	return Endpoints{Gateway: c.GatewayURL, Console: c.GatewayURL + "/_local/", Redis: c.RedisAddr, OSS: c.OSSEndpoint,
		Tablestore: c.OTSEndpoint, OTSInstance: c.OTSInstance, SMTP: c.SMTPAddr, DataDir: c.DataDir}
}

func (c *Cloud) health(w http.ResponseWriter, r *http.Request) {
	names := make([]string, 0, len(c.functions))
	for _, f := range c.functions {
		names = append(names, f.Name)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status":    "ok",
		"uptime":    time.Since(c.started).Round(time.Second).String(),
		"now":       c.Clock.Now().UTC(),
		"functions": names,
		"endpoints": c.Endpoints(),
		"console": []string{
			"GET /_local/health", "GET /_local/functions", "GET /_local/invocations?function=&limit=",
			"POST /_local/invoke/{function}", "GET /_local/timers", "POST /_local/timers/{function}/{trigger}",
			"GET /_local/clock", `POST /_local/clock {"advance":"720h"}`, "GET /_local/mail?to=ADDRESS",
			`POST /_local/ots/faults {"rate":0.1,"codes":["OTSServerBusy"],"actions":["UpdateRow"]}`,
		},
	})
}

// FunctionInfo is what the console shows about one function.
type FunctionInfo struct {
	fcemu.Stats
	Triggers []TriggerInfo `json:"triggers"`
}

// TriggerInfo describes a trigger.
type TriggerInfo struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Detail  string `json:"detail"`
	Enabled bool   `json:"enabled"`
}

// Describe summarises a trigger in one line: methods, OSS filter or cron.
func Describe(t *manifest.Trigger) string {
	switch t.Type {
	case manifest.TriggerHTTP:
		return fmt.Sprintf("%v auth=%s", t.Methods, t.AuthType)
	case manifest.TriggerOSS:
		return fmt.Sprintf("bucket %s, %v, prefix %q suffix %q", t.Bucket, t.Events, t.Prefix, t.Suffix)
	case manifest.TriggerTimer:
		return t.Cron
	}
	return t.Type
}

func (c *Cloud) functionsInfo(w http.ResponseWriter, r *http.Request) {
	out := make([]FunctionInfo, 0, len(c.functions))
	for _, f := range c.functions {
		st, _ := c.FC.Stats(f.Name)
		fi := FunctionInfo{Stats: st}
		for _, t := range f.Triggers {
			fi.Triggers = append(fi.Triggers, TriggerInfo{Name: t.Name, Type: t.Type, Detail: Describe(t), Enabled: t.Type != manifest.TriggerTimer || t.Enabled})
		}
		out = append(out, fi)
	}
	writeJSON(w, http.StatusOK, out)
}

func (c *Cloud) invocations(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			gateway.Problem(w, http.StatusBadRequest, "BadLimit", "limit must be a positive number")
			return
		}
		limit = n
	}
	writeJSON(w, http.StatusOK, c.FC.Invocations(r.URL.Query().Get("function"), limit))
}

// invoke is a synchronous invocation over HTTP, for `fclocal invoke` against a running cloud.
// The function's result is the body; a failure answers 502 with x-fc-error-type.
func (c *Cloud) invoke(w http.ResponseWriter, r *http.Request) {
	payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, fcemu.MaxSyncPayload))
	if err != nil {
		gateway.Problem(w, http.StatusRequestEntityTooLarge, "PayloadTooLarge", err.Error())
		return
	}
	out, err := c.FC.Invoke(r.Context(), r.PathValue("function"), payload)
	var fe *fcemu.Error
	switch {
	case errors.Is(err, fcemu.ErrUnknownFunction):
		gateway.Problem(w, http.StatusNotFound, "FunctionNotFound", err.Error())
	case errors.As(err, &fe):
		w.Header().Set("x-fc-error-type", fe.Type)
		body := fe.Payload
		if body == nil {
			body, _ = json.Marshal(map[string]string{"errorType": fe.Type, "errorMessage": fe.Message})
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadGateway)
		w.Write(body)
	case err != nil:
		gateway.Problem(w, http.StatusInternalServerError, "InvokeFailed", err.Error())
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(out)
	}
}

func (c *Cloud) fireTimer(w http.ResponseWriter, r *http.Request) {
	fn, tr := r.PathValue("function"), r.PathValue("trigger")
	err := c.Scheduler.FireNow(context.WithoutCancel(r.Context()), fn, tr)
	switch {
	case errors.Is(err, scheduler.ErrNotFound):
		gateway.Problem(w, http.StatusNotFound, "TimerNotFound", err.Error())
	case err != nil:
		gateway.Problem(w, http.StatusInternalServerError, "FireFailed", err.Error())
	default:
		writeJSON(w, http.StatusAccepted, map[string]string{"fired": fn + "/" + tr, "see": "/_local/invocations?function=" + fn})
	}
}

func (c *Cloud) clockState() map[string]any {
	return map[string]any{"now": c.Clock.Now().UTC().Format(time.RFC3339Nano), "offset": c.Clock.Offset().String()}
}

func (c *Cloud) getClock(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, c.clockState())
}

func (c *Cloud) advanceClock(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Advance string `json:"advance"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		gateway.Problem(w, http.StatusBadRequest, "BadRequest", `want {"advance":"720h"}: `+err.Error())
		return
	}
	d, err := time.ParseDuration(req.Advance)
	if err != nil || d <= 0 {
		gateway.Problem(w, http.StatusBadRequest, "BadDuration", fmt.Sprintf("advance %q: want a positive Go duration such as 90m or 720h", req.Advance))
		return
	}
	if err := c.Clock.Advance(d); err != nil {
		gateway.Problem(w, http.StatusInternalServerError, "ClockFailed", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, c.clockState())
}

// setFaults makes a share of Tablestore requests fail with retryable errors, so retry paths
// can be watched locally. {"rate":0} turns it off.
func (c *Cloud) setFaults(w http.ResponseWriter, r *http.Request) {
	var f struct {
		Rate    float64  `json:"rate"`
		Codes   []string `json:"codes"`
		Actions []string `json:"actions"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		gateway.Problem(w, http.StatusBadRequest, "BadRequest", `want {"rate":0.1,"codes":["OTSServerBusy"],"actions":["UpdateRow"]}: `+err.Error())
		return
	}
	if f.Rate < 0 || f.Rate > 1 {
		gateway.Problem(w, http.StatusBadRequest, "BadRate", "rate is a probability between 0 and 1")
		return
	}
	for _, code := range f.Codes {
		if !strings.HasPrefix(code, "OTS") {
			gateway.Problem(w, http.StatusBadRequest, "BadCode", fmt.Sprintf("%q is not a Tablestore error code (OTSServerBusy, OTSRowOperationConflict, ...)", code))
			return
		}
	}
	c.ots.SetFaults(otsemu.Faults{Rate: f.Rate, Codes: f.Codes, Actions: f.Actions})
	writeJSON(w, http.StatusOK, f)
}
