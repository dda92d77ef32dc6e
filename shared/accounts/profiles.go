package accounts

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
)

// Defaults of ProfilesConfig.
const (
	// DefaultProfileCacheTTL is how stale a profile read may be on an instance that did not
	// make the change: a nickname edited through another instance, or a tier an admin set
	// there, shows up here within this time. Edits made through this instance show at once.
	DefaultProfileCacheTTL  = 5 * time.Second
	DefaultProfileCacheSize = 10000
)

// ProfilesConfig is what Profiles needs.
type ProfilesConfig struct {
	DB       *tablestore.Client
	Verifier httpapi.TokenVerifier
	// CacheTTL bounds the staleness of cached account rows (DefaultProfileCacheTTL when zero,
	// no cache when negative); CacheSize their number (DefaultProfileCacheSize when zero).
	CacheTTL  time.Duration
	CacheSize int
	Now       func() time.Time
}

// Profiles serves the users function: a user's own account, public profiles and the admin's
// tier switch.
type Profiles struct {
	store    store
	verifier httpapi.TokenVerifier
	cache    *accountCache
	now      func() time.Time
}

// NewProfiles checks cfg and returns Profiles.
func NewProfiles(cfg ProfilesConfig) (*Profiles, error) {
	if cfg.DB == nil || cfg.Verifier == nil {
		return nil, errors.New("accounts: profiles need DB and Verifier")
	}
	if cfg.Now == nil {
		cfg.Now = runtime.Now
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultProfileCacheTTL
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = DefaultProfileCacheSize
	}
	p := &Profiles{store: store{db: cfg.DB}, verifier: cfg.Verifier, now: cfg.Now}
	if cfg.CacheTTL > 0 {
		p.cache = &accountCache{ttl: cfg.CacheTTL, max: cfg.CacheSize, now: cfg.Now, m: map[string]cachedAccount{}}
	}
	return p, nil
}

// Me is the caller's own account.
type Me struct {
	ID        string     `json:"id"`
	Email     string     `json:"email"`
	Nickname  string     `json:"nickname"`
	Bio       string     `json:"bio"`
	Tier      vodfc.Tier `json:"tier"`
	Roles     []string   `json:"roles"`
	CreatedAt time.Time  `json:"created_at"`
}

// PublicProfile is what anyone may see of an account: never its address.
type PublicProfile struct {
	ID        string    `json:"id"`
	Nickname  string    `json:"nickname"`
	Bio       string    `json:"bio"`
	CreatedAt time.Time `json:"created_at"`
}

// ProfileChange is a PATCH of the caller's profile: nil fields stay as they are.
type ProfileChange struct {
	Nickname *string `json:"nickname"`
	Bio      *string `json:"bio"`
}

var errUserNotFound = vodfc.NotFound("user_not_found", "there is no such user")

// account reads an account through the cache.
func (p *Profiles) account(ctx context.Context, id string) (*account, error) {
	if a := p.cache.get(id); a != nil {
		return a, nil
	}
	a, err := p.store.profile(ctx, id)
	if err != nil || a == nil {
		return nil, err
	}
	p.cache.put(a)
	return a, nil
}

// Me returns the account of the verified caller p.
func (p *Profiles) Me(ctx context.Context, caller vodfc.Principal) (*Me, error) {
	a, err := p.account(ctx, caller.UserID)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, errUserNotFound
	}
	roles := make([]string, 0, len(caller.Roles))
	for _, r := range caller.Roles {
		roles = append(roles, string(r))
	}
	return &Me{ID: a.ID, Email: a.Email, Nickname: a.Nickname, Bio: a.Bio, Tier: a.Tier, Roles: roles,
		CreatedAt: a.CreatedAt}, nil
}

// UpdateMe changes the caller's nickname and/or bio.
func (p *Profiles) UpdateMe(ctx context.Context, caller vodfc.Principal, ch ProfileChange) (*Me, error) {
	if ch.Nickname == nil && ch.Bio == nil {
		return nil, vodfc.Invalid("nothing_to_change", "send nickname, bio or both")
	}
	if ch.Nickname != nil {
		n, err := cleanNickname(*ch.Nickname)
		if err != nil {
			return nil, err
		}
		ch.Nickname = &n
	}
	if ch.Bio != nil {
		b, err := cleanBio(*ch.Bio)
		if err != nil {
			return nil, err
		}
		ch.Bio = &b
	}
	err := p.store.updateProfile(ctx, caller.UserID, ch.Nickname, ch.Bio, p.now())
	p.cache.forget(caller.UserID)
	if tablestore.IsConditionFailed(err) {
		return nil, errUserNotFound
	}
	if err != nil {
		return nil, err
	}
	return p.Me(ctx, caller)
}

// Public returns the public profile of user id. Accounts that never confirmed their address
// have no public profile.
func (p *Profiles) Public(ctx context.Context, id string) (*PublicProfile, error) {
	if !vodfc.ValidID(id) {
		return nil, errUserNotFound
	}
	a, err := p.account(ctx, id)
	if err != nil {
		return nil, err
	}
	if a == nil || !a.Verified {
		return nil, errUserNotFound
	}
	return &PublicProfile{ID: a.ID, Nickname: a.Nickname, Bio: a.Bio, CreatedAt: a.CreatedAt}, nil
}

// TierChange is an admin's change of a user's tier.
type TierChange struct {
	ID   string     `json:"id"`
	Tier vodfc.Tier `json:"tier"`
}

// SetTier sets user id's tier; the user's next access token (at its next refresh) carries it.
// It stands in for the membership feature, which will replace it.
func (p *Profiles) SetTier(ctx context.Context, admin vodfc.Principal, id string, tier vodfc.Tier) (*TierChange, error) {
	if !tier.Valid() {
		return nil, vodfc.InvalidField("tier", "must be free or member")
	}
	if !vodfc.ValidID(id) {
		return nil, errUserNotFound
	}
	err := p.store.setTier(ctx, id, tier, p.now())
	p.cache.forget(id)
	if tablestore.IsConditionFailed(err) {
		return nil, errUserNotFound
	}
	if err != nil {
		return nil, err
	}
	slog.InfoContext(ctx, "accounts: tier set by an admin", "user_id", id, "tier", string(tier), "admin_id", admin.UserID)
	return &TierChange{ID: id, Tier: tier}, nil
}

// Routes registers the users function's routes on r.
func (p *Profiles) Routes(r *httpapi.Router) {
	authn := httpapi.RequireAuth(p.verifier)
	r.HandleFunc("GET /api/v1/me", p.handleMe, authn)
	r.HandleFunc("PATCH /api/v1/me", p.handleUpdateMe, authn)
	r.HandleFunc("GET /api/v1/users/{id}", p.handlePublic)
	r.HandleFunc("PUT /api/v1/admin/users/{id}/tier", p.handleSetTier, authn, httpapi.RequireRole(vodfc.RoleAdmin))
}

func caller(r *http.Request) vodfc.Principal {
	c, _ := httpapi.PrincipalFrom(r.Context()) // RequireAuth guarantees it
	return c
}

func (p *Profiles) handleMe(w http.ResponseWriter, r *http.Request) {
	me, err := p.Me(r.Context(), caller(r))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "private, no-cache")
	httpapi.WriteJSON(w, http.StatusOK, me)
}

func (p *Profiles) handleUpdateMe(w http.ResponseWriter, r *http.Request) {
	var ch ProfileChange
	if err := httpapi.DecodeJSON(w, r, &ch); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	me, err := p.UpdateMe(r.Context(), caller(r), ch)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "private, no-cache")
	httpapi.WriteJSON(w, http.StatusOK, me)
}

func (p *Profiles) handlePublic(w http.ResponseWriter, r *http.Request) {
	prof, err := p.Public(r.Context(), r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=60")
	httpapi.WriteJSON(w, http.StatusOK, prof)
}

func (p *Profiles) handleSetTier(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Tier vodfc.Tier `json:"tier"`
	}
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	out, err := p.SetTier(r.Context(), caller(r), r.PathValue("id"), in.Tier)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// accountCache keeps account rows for a short time, so the hot GET /me costs no Tablestore
// round trip. A nil cache caches nothing.
type accountCache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu sync.RWMutex
	m  map[string]cachedAccount
}

type cachedAccount struct {
	a       *account
	expires time.Time
}

func (c *accountCache) get(id string) *account {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	if !ok || !c.now().Before(e.expires) {
		return nil
	}
	return e.a
}

func (c *accountCache) put(a *account) {
	if c == nil {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		// Drop the expired entries, and if that is not enough an arbitrary eighth: Go's map
		// order is random, so this is random eviction, cheap and good enough for a cache whose
		// entries all die within seconds anyway.
		drop := c.max / 8
		for id, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, id)
			} else if drop > 0 {
				delete(c.m, id)
				drop--
			}
		}
	}
	c.m[a.ID] = cachedAccount{a: a, expires: now.Add(c.ttl)}
}

func (c *accountCache) forget(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}
