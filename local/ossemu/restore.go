package ossemu

import (
	"encoding/xml"
	"net/http"
	"strings"
	"time"
)

// restoreDuration is how long a restore of class takes at tier, in multiples of the configured
// Archive delay; with the default minute this mirrors OSS: Archive about a minute, ColdArchive
// 1 h (Expedited), 5 h (Standard) or 12 h (Bulk), DeepColdArchive 12 h or 48 h.
func restoreDuration(base time.Duration, class, tier string) time.Duration {
	switch class {
	case classColdArchive:
		switch tier {
		case "Expedited":
			return 60 * base
		case "Bulk":
			return 720 * base
		}
		return 300 * base
	case classDeepColdArch:
		if tier == "Expedited" {
			return 720 * base
		}
		return 2880 * base
	}
	return base
}

// restoreObject is RestoreObject: 202 when a restore starts, 409 RestoreAlreadyInProgress
// while it runs, 200 (and a longer stay) once the object is readable.
func (s *Server) restoreObject(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	cur := b.get(c.key)
	if cur == nil {
		c.fail(errNoSuchKey.with("Key", c.key))
		return
	}
	if !isArchived(cur.Class) {
		c.fail(errOperationNotSupported.withMessage("RestoreObject applies to Archive, ColdArchive and DeepColdArchive objects; this one is %s.", cur.Class))
		return
	}
	body, e := readSmallBody(c, 64<<10)
	if e != nil {
		c.fail(e)
		return
	}
	var req struct {
		Days int
		Tier string `xml:"JobParameters>Tier"`
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := xml.Unmarshal(body, &req); err != nil {
			c.fail(errMalformedXML)
			return
		}
	}
	maxDays := 7
	if cur.Class != classArchive {
		maxDays = 365
	}
	if req.Days == 0 {
		req.Days = 1
	}
	if req.Days < 1 || req.Days > maxDays {
		c.fail(errInvalidArgument.withMessage("Days must be between 1 and %d for %s objects.", maxDays, cur.Class).with("ArgumentName", "Days"))
		return
	}
	switch req.Tier {
	case "":
		if cur.Class != classArchive {
			req.Tier = "Standard"
		}
	case "Expedited", "Standard":
	case "Bulk":
		if cur.Class == classDeepColdArch {
			c.fail(errInvalidArgument.withMessage("DeepColdArchive restores take the Expedited or Standard tier.").with("ArgumentName", "Tier"))
			return
		}
	default:
		c.fail(errInvalidArgument.withMessage("Tier must be Expedited, Standard or Bulk.").with("ArgumentName", "Tier"))
		return
	}
	now := s.now().UTC()
	stay := time.Duration(req.Days) * 24 * time.Hour
	o := cur.clone()
	status := http.StatusAccepted
	switch r := cur.Restore; {
	case r != nil && now.Before(r.Ready):
		c.fail(errRestoreInProgress)
		return
	case r != nil && now.Before(r.Expires):
		o.Restore.Expires = now.Add(stay)
		o.Restore.Days = req.Days
		status = http.StatusOK
	default:
		ready := now.Add(restoreDuration(s.opts.RestoreDelay, cur.Class, req.Tier))
		o.Restore = &restoreState{Requested: now, Ready: ready, Expires: ready.Add(stay), Days: req.Days, Tier: req.Tier}
	}
	if _, e := s.commit(b, o, sameData(cur)); e != nil {
		c.fail(e)
		return
	}
	if status == http.StatusAccepted {
		b.mu.Lock()
		b.usage.retrieve(cur.Class, cur.Size)
		b.mu.Unlock()
	}
	c.status = status
	c.w.WriteHeader(status)
}
