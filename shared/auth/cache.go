package auth

import (
	"crypto/sha256"
	"slices"
	"sync"
	"time"

	"vodfc.dev/vodfc"
)

// cachedToken is what a verified token proved, plus the times that must be checked again on
// every use.
type cachedToken struct {
	userID, tokenID string
	tier            vodfc.Tier
	roles           []vodfc.Role
	exp, nbf        time.Time
}

func (e cachedToken) principal() vodfc.Principal {
	// Roles is copied so a handler that appends to it cannot change what later requests see.
	return vodfc.Principal{UserID: e.userID, Tier: e.tier, Roles: slices.Clone(e.roles), TokenID: e.tokenID}
}

// tokenCache is a bounded map of verified tokens keyed by the SHA-256 of the whole token, so a
// token differing in any byte misses. A cryptographic hash matters here: with a weaker one an
// attacker could craft a forged token colliding with a victim's cached one.
//
// Each shard keeps two generations: entries go into the current one; when it is full, it
// becomes the previous one and the old previous one is dropped. A hit in the previous
// generation moves the entry forward, so tokens in use survive and the rest (expired ones
// included) age out in O(1) without per-entry bookkeeping. Sharding keeps the lock uncontended
// when every core is verifying.
type tokenCache struct {
	shards [16]cacheShard
}

type cacheShard struct {
	mu       sync.Mutex
	max      int // per generation
	cur, old map[[sha256.Size]byte]cachedToken
}

func newTokenCache(size int) *tokenCache {
	perGen := max(1, size/len(tokenCache{}.shards)/2)
	c := &tokenCache{}
	for i := range c.shards {
		c.shards[i].max = perGen
		c.shards[i].cur = make(map[[sha256.Size]byte]cachedToken)
	}
	return c
}

func (c *tokenCache) shard(k [sha256.Size]byte) *cacheShard {
	return &c.shards[k[0]%byte(len(c.shards))]
}

func (c *tokenCache) get(k [sha256.Size]byte) (cachedToken, bool) {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.cur[k]; ok {
		return e, true
	}
	e, ok := s.old[k]
	if ok {
		delete(s.old, k)
		s.add(k, e)
	}
	return e, ok
}

func (c *tokenCache) put(k [sha256.Size]byte, e cachedToken) {
	s := c.shard(k)
	s.mu.Lock()
	s.add(k, e)
	s.mu.Unlock()
}

func (c *tokenCache) remove(k [sha256.Size]byte) {
	s := c.shard(k)
	s.mu.Lock()
	delete(s.cur, k)
	delete(s.old, k)
	s.mu.Unlock()
}

func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.cur) + len(s.old)
		s.mu.Unlock()
	}
	return n
}

func (s *cacheShard) add(k [sha256.Size]byte, e cachedToken) {
	if _, ok := s.cur[k]; !ok && len(s.cur) >= s.max {
		s.old = s.cur
		s.cur = make(map[[sha256.Size]byte]cachedToken, s.max)
	}
	s.cur[k] = e
}
